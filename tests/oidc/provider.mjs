// A real OpenID provider (panva's oidc-provider) for the end-to-end test of a generated `oidc`
// project (tests/oidc.rs drives it with tests/oidc/drive.py). Plain http on loopback, keys made
// at start, everything in memory: nothing here is fit for anything but that test.
//
//   node provider.mjs --port P --client-id ID --client-secret S --redirect-uri URI \
//       --audience AUD [--other-audience AUD2] [--access-token-ttl SECONDS]
//
// Prints `ready http://127.0.0.1:P` on stdout once it listens, and nothing else there.
//
// Clients:
//   - ID/S: the service's backend (confidential, client_secret_basic, code flow, URI only);
//   - `cli`: a public native client (no secret), redirect http://127.0.0.1/cli-callback, with
//     which the driver gets access tokens the way a command-line tool would.
// Both must use PKCE with S256 (oidc-provider knows no other method).
//
// Access tokens are JWTs (RFC 9068) for the resource AUD (the default) or AUD2 (on request with
// `resource=AUD2`), signed RS256, with the account's `roles`. ID tokens carry `roles` and
// `preferred_username` too. Login and consent are oidc-provider's development interactions:
// a form at /interaction/:uid that posts `prompt=login&login=NAME&password=ANY` back to the same
// address, then a consent form there that posts `prompt=consent`.
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    audience: { type: 'string' },
    'other-audience': { type: 'string' },
    'access-token-ttl': { type: 'string', default: '300' },
  },
  strict: true,
});
for (const required of ['port', 'client-id', 'client-secret', 'redirect-uri', 'audience']) {
  if (!args[required]) {
    console.error(`provider.mjs: --${required} is required`);
    process.exit(2);
  }
}
const port = Number(args.port);
const accessTokenTTL = Number(args['access-token-ttl']);
if (!Number.isSafeInteger(accessTokenTTL) || accessTokenTTL <= 0) {
  console.error('provider.mjs: --access-token-ttl must be a positive integer');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

// The test users: login name = subject. mallory's role is one the service does not know.
const ROLES = {
  alice: ['chief'],
  bob: ['clerk'],
  mallory: ['nobody-we-know'],
};

// An RS256 key (the one that signs) and an ES256 one beside it in the JWKS, so the service
// must pick the key by `kid`, as with any real provider's key set.
function signingKey(kid, type, options) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}
const jwks = {
  keys: [
    signingKey('rs256-1', 'rsa', { modulusLength: 2048 }),
    signingKey('es256-1', 'ec', { namedCurve: 'P-256' }),
  ],
};

const resourceServers = new Map([[args.audience, args.audience]]);
if (args['other-audience']) {
  resourceServers.set(args['other-audience'], args['other-audience']);
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args['client-id'],
      client_secret: args['client-secret'],
      redirect_uris: [args['redirect-uri']],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'cli',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/cli-callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
  ],
  jwks,
  // Required of every client, the confidential one included (oidc-provider's default asks it
  // only of public ones); S256 is the only method oidc-provider implements.
  pkce: { required: () => true },
  async findAccount(_ctx, sub) {
    const roles = ROLES[sub];
    if (!roles) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: sub, roles };
      },
    };
  },
  // `roles` comes with `openid` itself, so the ID token carries it whatever else the service
  // asks for; `conformIdTokenClaims: false` puts the scope's claims into the ID token even when
  // an access token is issued beside it.
  claims: {
    openid: ['sub', 'roles'],
    profile: ['preferred_username'],
  },
  conformIdTokenClaims: false,
  async extraTokenClaims(_ctx, token) {
    const roles = token.accountId ? ROLES[token.accountId] : undefined;
    return roles ? { roles } : undefined;
  },
  features: {
    devInteractions: { enabled: true },
    // end_session_endpoint in the discovery document, for the service's logout to name.
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Without `resource`, a token is for the API (the audience the service checks).
      defaultResource: (_ctx, _client, oneOf) => (oneOf ? oneOf[0] : args.audience),
      // The token endpoint reuses the resource granted at the authorization endpoint.
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, resource) {
        const audience = resourceServers.get(resource);
        if (!audience) throw new errors.InvalidTarget(`unknown resource ${resource}`);
        return {
          scope: 'api',
          audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // Set, so oidc-provider's notices that the defaults are in use stay off stdout.
  ttl: {
    AccessToken: accessTokenTTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  clientBasedCORS: () => false,
  // Plain text, so the driver can show why the provider refused a request.
  renderError(ctx, out) {
    ctx.type = 'text';
    ctx.body = JSON.stringify(out);
  },
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
server.on('error', (error) => {
  console.error(`provider.mjs: ${error.message}`);
  process.exit(1);
});
