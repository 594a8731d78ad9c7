// One scenario of panva's openid-client (discovery and grants) and jose (token verification)
// against an AuthPI issuer, unmodified and configured only as their documentation says.
//
//     node client.mjs SCENARIO '{"issuer": "...", "client_id": "...", ...}'
//
// Prints what the libraries returned as one JSON object; any error they raise is printed on
// stderr and exits non-zero, except in the scenarios that expect one and report its shape.
import * as oidc from 'openid-client'
import { calculateJwkThumbprint, createRemoteJWKSet, exportJWK, importJWK, jwtVerify } from 'jose'

const [scenario, raw] = process.argv.slice(2)
const input = JSON.parse(raw)

// openid-client refuses plain-http issuers unless told otherwise. The node under test listens
// on loopback without TLS, so every request here opts in with the library's documented option;
// nothing else about the client is changed.
const insecure = { execute: [oidc.allowInsecureRequests] }

function authentication() {
  switch (input.method) {
    case 'client_secret_basic':
      return oidc.ClientSecretBasic(input.secret)
    case 'client_secret_post':
      return oidc.ClientSecretPost(input.secret)
    case 'private_key_jwt':
      return importJWK(input.private_jwk, 'ES256').then((key) => oidc.PrivateKeyJwt(key))
    default:
      throw new Error(`unknown method ${input.method}`)
  }
}

async function configuration(algorithm = 'oidc') {
  const auth = await authentication()
  return oidc.discovery(new URL(input.issuer), input.client_id, undefined, auth, {
    ...insecure,
    algorithm,
  })
}

// RFC 9068 §4: the issuer's keys from its jwks_uri, typ at+jwt, the issuer, the audience.
async function verify(config, token) {
  const metadata = config.serverMetadata()
  const keys = createRemoteJWKSet(new URL(metadata.jwks_uri))
  const { payload, protectedHeader } = await jwtVerify(token, keys, {
    issuer: metadata.issuer,
    audience: input.audience ?? metadata.issuer,
    typ: 'at+jwt',
    algorithms: ['ES256'],
  })
  return { header: protectedHeader, claims: payload }
}

function grantResult(token) {
  return { token_type: token.token_type, expires_in: token.expires_in, scope: token.scope }
}

const scenarios = {
  // Both ways openid-client finds an issuer with a path: OpenID Connect Discovery appends
  // the well-known suffix; RFC 8414 inserts the well-known prefix before the path.
  async discovery() {
    const found = {}
    for (const algorithm of ['oidc', 'oauth2']) {
      found[algorithm] = (await configuration(algorithm)).serverMetadata()
    }
    return found
  },

  // Grant, verify, introspect, revoke, introspect again.
  async lifecycle() {
    const config = await configuration()
    const parameters = input.scope ? { scope: input.scope } : {}
    const token = await oidc.clientCredentialsGrant(config, parameters)
    const verified = await verify(config, token.access_token)
    const introspected = await oidc.tokenIntrospection(config, token.access_token)
    await oidc.tokenRevocation(config, token.access_token)
    const after = await oidc.tokenIntrospection(config, token.access_token)
    return { token: grantResult(token), ...verified, introspected, after }
  },

  async grant() {
    const config = await configuration()
    const token = await oidc.clientCredentialsGrant(config, {})
    return { token: grantResult(token), ...(await verify(config, token.access_token)) }
  },

  // RFC 9449: openid-client makes the proofs and retries once on use_dpop_nonce.
  async dpop() {
    const config = await configuration()
    const pair = await oidc.randomDPoPKeyPair('ES256')
    const token = await oidc.clientCredentialsGrant(config, {}, {
      DPoP: oidc.getDPoPHandle(config, pair),
    })
    const verified = await verify(config, token.access_token)
    const thumbprint = await calculateJwkThumbprint(await exportJWK(pair.publicKey))
    return { token: grantResult(token), ...verified, thumbprint }
  },

  // The shape openid-client gives a refused grant.
  async refused() {
    const config = await configuration()
    try {
      await oidc.clientCredentialsGrant(config, input.scope ? { scope: input.scope } : {})
    } catch (err) {
      return {
        name: err.name,
        code: err.code,
        status: err.status,
        error: err.error,
        error_description: err.error_description,
        challenges: err.cause instanceof Array ? err.cause : undefined,
      }
    }
    throw new Error('the grant was not refused')
  },
}

const run = scenarios[scenario]
if (!run) {
  throw new Error(`unknown scenario ${scenario}`)
}
process.stdout.write(JSON.stringify(await run()))
