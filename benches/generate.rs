// Why: generation should stay instant. This measures the two halves separately: rendering a
// project in memory (manifest + Tera, the plan: parsing the selected templates included, as
// nothing is cached between plans) and the whole generate-to-disk path (staging folder +
// rename), for the default project and the largest option set. bench/generate times the real
// binary against `cp -r` of the same tree.

use criterion::{criterion_group, criterion_main, Criterion};

use portcullis::spec::{AuthMethod, DatabaseKind, RoleModel};

fn specs() -> Vec<(&'static str, portcullis::ProjectSpec)> {
    let defaults = portcullis::resolve::default_spec("bench-api").expect("valid");
    let mut all = defaults.clone();
    all.auth.methods = AuthMethod::ALL.to_vec();
    all.roles.model = RoleModel::Permissions;
    all.database.kind = DatabaseKind::Postgres;
    vec![("defaults", defaults), ("all-methods", all)]
}

fn plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    for (name, spec) in specs() {
        group.bench_function(name, |b| {
            b.iter(|| {
                portcullis::plan::plan(&spec, &portcullis::plan::Secrets::new("secret", "audit"))
                    .expect("renders")
            })
        });
    }
    group.finish();
}

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.sample_size(20);
    for (name, spec) in specs() {
        group.bench_function(name, |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("tmp"),
                |tmp| {
                    portcullis::generate(
                        &spec,
                        &tmp.path().join("bench-api"),
                        &portcullis::Options::default(),
                    )
                    .expect("writes");
                    tmp
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, plan, generate);
criterion_main!(benches);
