//! The security catalogue (../shared/SECURITY-CATALOGUE.md), section by section, against the
//! tests every generated project ships.
//!
//! A protection without a test that attacks it does not exist: for every set of auth methods,
//! each catalogue section that applies must still have each of the generated tests that prove
//! it. Renaming or dropping one of them fails here, in this repository, before it ships.

use std::path::Path;
use std::process::Command;

mod common;
use common::METHOD_SETS;

/// When a section applies to a project.
#[derive(Clone, Copy)]
enum Needs {
    Always,
    Method(&'static str),
    /// User accounts: oauth2 or session.
    Users,
    /// The browser login through the provider: oidc and session.
    OidcLogin,
}

impl Needs {
    fn holds(self, methods: &str) -> bool {
        let has = |m: &str| methods.split(',').any(|x| x == m);
        match self {
            Needs::Always => true,
            Needs::Method(m) => has(m),
            Needs::Users => has("oauth2") || has("session"),
            Needs::OidcLogin => has("oidc") && has("session"),
        }
    }
}

/// (catalogue section, when it applies, generated test file, the tests that attack it)
const CATALOGUE: &[(&str, Needs, &str, &[&str])] = &[
    (
        "OIDC tokens",
        Needs::Method("oidc"),
        "tests/test_oidc.py",
        &[
            "test_alg_none_is_refused",
            "test_hs256_signed_with_the_public_key_is_refused",
            "test_an_algorithm_that_does_not_fit_the_key_is_refused",
            "test_a_token_whose_header_asks_too_much_is_refused",
            "test_a_token_with_a_bad_claim_is_refused",
            "test_a_small_clock_skew_is_tolerated",
            "test_a_flood_of_unknown_key_ids_fetches_the_keys_at_most_once",
            "test_a_new_key_is_fetched_when_a_token_names_it",
            "test_keys_unreachable_from_the_start_fail_closed",
            "test_keys_past_their_age_are_not_trusted_while_the_provider_is_down",
            "test_a_token_that_maps_to_no_role_is_403",
            "test_the_audit_actor_is_the_subject_with_its_issuer",
        ],
    ),
    (
        "OIDC browser login",
        Needs::OidcLogin,
        "tests/test_oidc_login.py",
        &[
            "test_the_authorization_request_uses_pkce_state_and_nonce",
            "test_a_wrong_state_is_refused",
            "test_a_nonce_mismatch_is_refused",
            "test_a_pkce_mismatch_is_refused",
            "test_a_replayed_callback_is_refused",
            "test_a_replayed_code_is_refused_under_a_new_state",
            "test_a_login_started_in_another_browser_is_refused",
            "test_an_id_token_for_someone_else_is_refused",
            "test_the_callback_redirects_nowhere",
            "test_claims_that_map_to_no_role_are_403_without_a_session",
        ],
    ),
    (
        "Bearer tokens",
        Needs::Method("oauth2"),
        "tests/test_jwt_attacks.py",
        &[
            "test_alg_none_in_any_casing_is_refused",
            "test_stripped_or_flipped_signature_is_refused",
            "test_edited_payload_is_refused",
            "test_other_hmac_algorithms_are_refused_even_with_the_right_key",
            "test_rs256_with_an_attacker_key_and_embedded_jwk_are_refused",
            "test_header_parameters_never_choose_a_key_or_make_us_fetch_a_url",
            "test_time_claims_are_enforced",
            "test_wrong_claims_are_refused",
            "test_missing_claims_are_refused",
            "test_wrong_token_type_in_header_or_claims_is_refused",
        ],
    ),
    (
        "Bearer tokens",
        Needs::Method("oauth2"),
        "tests/test_oauth2.py",
        &[
            "test_malformed_authorization_is_401_with_a_bearer_challenge",
            "test_access_token_lives_at_most_15_minutes_and_names_no_person",
            "test_refresh_token_is_not_an_access_token_and_vice_versa",
            "test_logout_ends_the_access_token_and_its_refresh_family_at_once",
            "test_password_change_ends_every_token_of_the_user",
            "test_disabling_a_user_stops_their_tokens_at_once",
            "test_a_role_change_acts_on_tokens_already_issued",
            "test_refresh_rotates_and_a_replayed_refresh_token_revokes_its_family",
            "test_refresh_tokens_are_opaque_and_stored_only_hashed",
            "test_tokens_are_accepted_only_in_the_authorization_header",
        ],
    ),
    (
        "API keys",
        Needs::Method("apikey"),
        "tests/test_api_keys.py",
        &[
            "test_a_key_is_shown_once_and_acts_with_its_role",
            "test_listings_logs_and_database_never_hold_the_key",
            "test_the_secret_is_compared_in_constant_time",
            "test_keys_are_accepted_only_in_the_header",
            "test_missing_unknown_revoked_and_expired_keys_get_identical_401s",
            "test_revocation_acts_at_once",
            "test_a_key_cannot_be_created_with_more_than_its_creator_holds",
            "test_failed_keys_are_throttled_per_client",
        ],
    ),
    (
        "Sessions",
        Needs::Method("session"),
        "tests/test_sessions.py",
        &[
            "test_login_sets_a_host_only_secure_httponly_lax_cookie",
            "test_the_session_id_is_stored_only_as_a_keyed_hash",
            "test_an_id_the_server_did_not_issue_is_never_adopted",
            "test_every_login_issues_a_new_id_and_ends_the_session_it_replaces",
            "test_password_change_issues_a_new_id_and_ends_the_other_sessions",
            "test_a_role_change_ends_the_session_so_the_new_role_gets_a_new_id",
            "test_logout_deletes_the_session_server_side_and_clears_the_cookie",
            "test_idle_timeout_ends_the_session",
            "test_absolute_timeout_ends_even_an_active_session",
            "test_unsafe_methods_need_the_session_csrf_token",
            "test_a_foreign_origin_is_refused_even_with_the_token",
        ],
    ),
    (
        "Access control",
        Needs::Always,
        "tests/test_deny_by_default.py",
        &[
            "test_every_route_is_guarded_or_allow_listed",
            "test_every_guarded_route_refuses_anonymous_callers",
        ],
    ),
    (
        "Access control",
        Needs::Always,
        "tests/test_access_matrix.py",
        &["test_role_matrix", "test_anonymous_is_unauthorized"],
    ),
    (
        "Access control (mass assignment)",
        Needs::Always,
        "tests/test_errors.py",
        &["test_unknown_fields_are_refused"],
    ),
    (
        "Access control (mass assignment)",
        Needs::Users,
        "tests/test_users.py",
        &[
            "test_nobody_changes_their_own_role_or_disables_themselves",
            "test_a_user_cannot_slip_a_role_into_their_password_change",
        ],
    ),
    (
        "Passwords and login",
        Needs::Users,
        "tests/test_passwords.py",
        &[
            "test_hashes_are_argon2id_with_the_configured_cost",
            "test_hashing_runs_in_a_thread_of_its_own_that_yields_to_requests",
            "test_password_checks_beyond_the_bounded_queue_are_refused_at_once",
            "test_a_cancelled_check_keeps_its_place_until_its_hash_has_finished",
            "test_password_policy",
            "test_every_character_counts_nothing_is_truncated",
            "test_the_bundled_blocklist_is_real",
            "test_refused_passwords_are_422_and_never_echoed",
            "test_unknown_user_costs_one_hash_and_answers_like_a_wrong_password",
        ],
    ),
    (
        "Passwords and login",
        Needs::Users,
        "tests/test_lockout.py",
        &[
            "test_failures_lock_the_username_even_for_the_right_password_from_any_address",
            "test_password_spraying_from_one_address_is_throttled",
        ],
    ),
    (
        "Passwords and login",
        Needs::Users,
        "tests/test_users.py",
        &["test_there_is_no_default_account"],
    ),
    (
        "CORS",
        Needs::Always,
        "tests/test_cors.py",
        &[
            "test_allowed_origin_gets_exactly_itself",
            "test_other_origins_get_no_cors_headers",
            "test_preflight_for_other_origin_is_refused",
        ],
    ),
    (
        "CORS",
        Needs::Always,
        "tests/test_settings.py",
        &["test_wildcard_cors_is_refused_even_in_development"],
    ),
    (
        "Transport and headers",
        Needs::Always,
        "tests/test_tls.py",
        &[
            "test_old_protocols_are_refused",
            "test_cbc_only_client_is_refused",
            "test_certificate_names",
            "test_https_response_has_hsts_and_no_server_header",
        ],
    ),
    (
        "Transport (Mozilla's TLS profiles, dev certificate lifetime)",
        Needs::Always,
        "tests/test_tls_profiles.py",
        &[
            "test_each_profile_accepts_exactly_its_versions",
            "test_each_profile_offers_exactly_its_suites",
            "test_each_profile_accepts_only_its_key_exchange_groups",
            "test_sslyze_finds_serve_compliant_with_the_profile",
            "test_the_development_certificate_lives_90_days",
            "test_dev_cert_renews_a_certificate_that_is_due_and_keeps_the_ca",
            "test_selfcheck_warns_about_the_certificates_lifetime",
        ],
    ),
    (
        "Transport and headers",
        Needs::Always,
        "tests/test_proxies.py",
        &[
            "test_forwarded_headers_from_an_untrusted_client_are_ignored",
            "test_forwarded_headers_from_a_trusted_proxy_are_believed",
        ],
    ),
    (
        "Transport and headers",
        Needs::Always,
        "tests/test_headers.py",
        &[
            "test_headers_on_every_status",
            "test_auth_responses_are_never_stored",
        ],
    ),
    (
        "Transport and headers",
        Needs::Always,
        "tests/test_errors.py",
        &["test_unhandled_error_is_a_generic_500_with_the_request_id"],
    ),
    (
        "Input",
        Needs::Always,
        "tests/test_errors.py",
        &[
            "test_json_routes_refuse_other_content_types",
            "test_declared_body_over_the_limit_is_413",
            "test_chunked_body_over_the_limit_is_413",
            "test_422_never_echoes_submitted_values",
        ],
    ),
    (
        "Input",
        Needs::Always,
        "tests/test_items.py",
        &["test_list_is_paginated_and_capped"],
    ),
    (
        "Input",
        Needs::Always,
        "tests/test_fuzz.py",
        &["test_valid_and_invalid_requests_get_documented_answers"],
    ),
    (
        "Audit log",
        Needs::Always,
        "tests/test_audit.py",
        &[
            "test_requests_are_recorded_with_every_field",
            "test_no_credential_reaches_the_log",
            "test_control_characters_are_escaped",
            "test_verify_finds_the_first_broken_record",
            "test_emit_never_waits_for_a_stuck_disk",
            "test_the_log_file_is_private",
        ],
    ),
    (
        "Audit log",
        Needs::Always,
        "tests/test_audit_events.py",
        &["test_startup_and_shutdown_are_recorded"],
    ),
    (
        "Audit log",
        Needs::Users,
        "tests/test_audit_events.py",
        &["test_a_successful_login_is_recorded_for_its_user_and_method"],
    ),
    (
        "Audit log",
        Needs::Method("session"),
        "tests/test_audit_events.py",
        &["test_a_session_login_records_the_new_session"],
    ),
    (
        "Audit log (no secret in any record or any other log)",
        Needs::Always,
        "tests/test_secrets_in_logs.py",
        &["test_no_secret_the_suite_used_reached_any_log"],
    ),
    (
        "Production settings",
        Needs::Always,
        "tests/test_settings.py",
        &["test_production_refuses", "test_test_environment_refuses"],
    ),
];

fn generate(out: &Path, methods: &str) -> std::path::PathBuf {
    let status = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "new",
            "catalogue-check",
            "--defaults",
            "--auth",
            methods,
            "--output-dir",
        ])
        .arg(out)
        .env("NO_COLOR", "1")
        .output()
        .expect("run portcullis");
    assert!(status.status.success(), "generate {methods}: {status:?}");
    out.join("catalogue-check")
}

#[test]
fn every_applicable_catalogue_section_keeps_its_generated_tests() {
    let mut missing = Vec::new();
    for methods in METHOD_SETS {
        let tmp = tempfile::tempdir().expect("tempdir");
        let project = generate(tmp.path(), methods);
        for (section, needs, file, tests) in CATALOGUE {
            if !needs.holds(methods) {
                continue;
            }
            let source = std::fs::read_to_string(project.join(file)).unwrap_or_default();
            for test in *tests {
                if !source.contains(&format!("def {test}(")) {
                    missing.push(format!("[{methods}] {section}: {file}::{test}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "catalogue lines without their attacking test:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_project_holds_no_test_file_of_a_method_it_does_not_have() {
    let only: [(&str, &str); 4] = [
        ("tests/test_jwt_attacks.py", "oauth2"),
        ("tests/test_oidc.py", "oidc"),
        ("tests/test_api_keys.py", "apikey"),
        ("tests/test_sessions.py", "session"),
    ];
    for methods in METHOD_SETS {
        let tmp = tempfile::tempdir().expect("tempdir");
        let project = generate(tmp.path(), methods);
        for (file, method) in only {
            let expected = methods.split(',').any(|m| m == method);
            assert_eq!(
                project.join(file).exists(),
                expected,
                "{file} with --auth {methods}"
            );
        }
    }
}

/// No generated text file may hold Tera syntax: it would be template residue, and a reader
/// could not tell it from a rendering bug (so the Python is written without `{{` too).
#[test]
fn no_generated_file_holds_template_syntax() {
    let mut residue = Vec::new();
    for methods in METHOD_SETS {
        let tmp = tempfile::tempdir().expect("tempdir");
        let project = generate(tmp.path(), methods);
        let mut stack = vec![project.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
                let path = entry.path();
                if path.ends_with(".portcullis") {
                    // The pristine render: copies of the files scanned here, in a tar.
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    // GitHub Actions expressions (`${{ ... }}`) and the alerts' annotation
                    // templates (`{{ $labels.job }}`) are those files' own syntax.
                    let own_syntax = path
                        .components()
                        .any(|c| c.as_os_str() == ".github" || c.as_os_str() == "monitoring");
                    if ["{{", "{%", "%}"].iter().any(|m| text.contains(m)) && !own_syntax {
                        residue.push(format!("[{methods}] {}", path.display()));
                    }
                }
            }
        }
    }
    assert!(residue.is_empty(), "template syntax in: {residue:?}");
}
