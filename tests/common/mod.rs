//! What the test binaries that generate whole projects share.

/// Every non-empty set of auth methods, in the canonical order.
pub const METHOD_SETS: [&str; 7] = [
    "oauth2",
    "apikey",
    "session",
    "oauth2,apikey",
    "oauth2,session",
    "apikey,session",
    "oauth2,apikey,session",
];
