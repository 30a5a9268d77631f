// Package jwtkey is a token source that signs JWTs with a local ECDSA or
// RSA private key, in the form a Temporal server's default JWT claim mapper
// accepts, and publishes the matching public keys as a JWKS.
//
// [NewProvider] is the entry point: it returns a [headers.Provider] for
// client.Options.HeadersProvider that signs a token, caches it and signs a
// new one before it expires. [ConfigFromLookup] reads its [Config] from the
// TEMPORAL_JWT_* environment variables.
//
// The server verifies these tokens with the public key: publish it in the
// JWKS the server fetches (its jwtKeyProvider.keySourceURIs) before the
// first token is signed with it. [KeySet] serves a JWKS over HTTP;
// [JWKSFromFiles] builds one from key files; [PublicJWK] and [Thumbprint]
// give one key's entry and its default kid. [GenerateKey] and
// [WritePrivateKeyFile] make a key.
//
// Only ES256 (ECDSA P-256) and RS256 (RSA of at least 2048 bits) are
// supported: they are the only algorithms the Temporal server accepts.
//
// One package serves one purpose, a local signing key through its whole
// life: make it, keep it in a file, sign with it, publish its public half.
// The files follow those steps: keys.go (make, write, thumbprint), pem.go
// (read PEM), permissions.go (check a key file), keyfile.go (re-read a
// replaced file), jwt.go and config.go (the token source), assertion.go
// (client assertions for package oidc), jwks.go (publish).
package jwtkey
