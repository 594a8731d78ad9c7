// node-oidc-provider configured as the token benchmark's AuthPI issuer is: one confidential
// client authenticating with client_secret_basic, the client_credentials grant, ES256 JWT
// access tokens (RFC 9068) for one resource server, introspection, and a JWKS with one ES256
// and one RS256 key (AuthPI publishes an ES256 access-token key and an RS256 ID-token key).
//
// oidc-provider refuses to introspect JWT access tokens ("Structured JWT Tokens cannot be
// introspected via the introspection_endpoint"), so a second resource server issues opaque
// tokens to the same client: the benchmark introspects one of those, a lookup in the
// provider's in-memory store with no signature to check.
//
//     node server.mjs '{"port": 8081, "client_id": "...", "client_secret": "...", "scope": "..."}'
//
// Prints "ready" on stdout once it listens on 127.0.0.1.
import { generateKeyPairSync } from 'node:crypto'

import Provider from 'oidc-provider'

const settings = JSON.parse(process.argv[2])
const issuer = `http://127.0.0.1:${settings.port}`
const audience = 'https://api.example.com/'
const opaqueAudience = 'https://opaque.example.com/'

function key(type, options, alg) {
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' })
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-1` }
}

const provider = new Provider(issuer, {
  scopes: settings.scope.split(' '),
  clients: [
    {
      client_id: settings.client_id,
      client_secret: settings.client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: settings.scope,
    },
  ],
  jwks: {
    keys: [
      key('ec', { namedCurve: 'P-256' }, 'ES256'),
      key('rsa', { modulusLength: 2048 }, 'RS256'),
    ],
  },
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) =>
        resource === opaqueAudience
          ? { scope: settings.scope, audience: opaqueAudience, accessTokenFormat: 'opaque' }
          : {
              scope: settings.scope,
              audience,
              accessTokenTTL: 3600,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'ES256' } },
            },
    },
  },
})

provider.listen(settings.port, '127.0.0.1', () => {
  process.stdout.write('ready\n')
})
