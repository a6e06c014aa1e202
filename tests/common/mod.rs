//! What the test binaries that generate whole projects share. Each binary uses a part of it,
//! so what one leaves unused is no warning.
#![allow(dead_code)]

/// Every non-empty set of auth methods, in the canonical order; the richest last.
pub const METHOD_SETS: [&str; 15] = [
    "oauth2",
    "oidc",
    "apikey",
    "session",
    "oauth2,oidc",
    "oauth2,apikey",
    "oauth2,session",
    "oidc,apikey",
    "oidc,session",
    "apikey,session",
    "oauth2,oidc,apikey",
    "oauth2,oidc,session",
    "oauth2,apikey,session",
    "oidc,apikey,session",
    "oauth2,oidc,apikey,session",
];

pub mod project;
