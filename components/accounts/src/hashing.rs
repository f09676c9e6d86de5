//! Password hashes: Argon2id (RFC 9106) through RustCrypto's `argon2`, stored as PHC strings
//! (`$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`) with a fresh 16-byte salt each.
//!
//! Parameters: OWASP's baseline for Argon2id, m = 19 MiB, t = 2, p = 1 (one lane: a Spin
//! instance has one thread). Measured on the 2-core development machine (README): about 16 ms
//! of CPU per hash natively and 50 ms in the wasm build, 19 MiB of memory (21 MiB of linear
//! memory for a whole sign-up in wasm), which keeps a sign-in well under a tenth of a second
//! and a guess at a stolen hash costly. Changing them is safe: every stored hash names its own
//! parameters, and a sign-in re-hashes a password whose hash used others
//! ([`Verified::Match`]'s `rehash`).
//!
//! Verification compares in constant time (the crate's `verify_password`). For an email with
//! no account, [`verify_dummy`] does the same work against a fixed hash, so "no such account"
//! and "wrong password" take the same time.
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use shop_contract::ShopError;
use shop_domain::password::Password;

/// Memory per hash in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over the memory.
pub const ITERATIONS: u32 = 2;
/// Lanes (parallelism).
pub const LANES: u32 = 1;

const PARAMS: Params = match Params::new(MEMORY_KIB, ITERATIONS, LANES, None) {
    Ok(p) => p,
    Err(_) => panic!("invalid Argon2 parameters"),
};

/// A hash of a password nobody has (made with [`PARAMS`]): what an unknown email is checked
/// against. A test keeps its parameters equal to [`PARAMS`], or the timing would differ.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXktc2FsdC0xMjM0NQ$2HTdH/6Vz7Nf9xo35cr/cpdsTGLGsFO+xH0fNUnLgiU";

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// The PHC string of `password` with a fresh random salt.
pub fn hash(password: &Password) -> Result<String, ShopError> {
    argon2().hash_password(password.expose_secret()).map(|h| h.to_string()).map_err(|e| {
        // The error names no input (salt generation, parameters), never the password.
        shop_spin::log::error(&format!("hashing a password failed: {e}"));
        ShopError::internal("A password could not be processed")
    })
}

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// It matches; `rehash` when the stored hash used other parameters than today's.
    Match { rehash: bool },
    /// It does not (or the stored hash is unreadable, which is logged).
    NoMatch,
}

/// Checks `password` against a stored PHC string, in constant time.
pub fn verify(password: &Password, stored: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else {
        shop_spin::log::error("a stored password hash is not a PHC string");
        return Verified::NoMatch;
    };
    match argon2().verify_password(password.expose_secret(), &parsed) {
        Ok(()) => Verified::Match { rehash: !is_current(&parsed) },
        Err(_) => Verified::NoMatch,
    }
}

/// The same work as [`verify`] for an account that does not exist; never matches.
pub fn verify_dummy(password: &Password) -> Verified {
    match verify(password, DUMMY_HASH) {
        // Whatever was typed, an unknown email signs nobody in.
        Verified::Match { .. } | Verified::NoMatch => Verified::NoMatch,
    }
}

/// Whether a hash was made with today's algorithm and parameters.
fn is_current(hash: &PasswordHash) -> bool {
    let params = Params::try_from(hash).ok();
    hash.algorithm.as_str() == "argon2id"
        && hash.version == Some(Version::V0x13.into())
        && params.is_some_and(|p| p.m_cost() == MEMORY_KIB && p.t_cost() == ITERATIONS && p.p_cost() == LANES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Password {
        Password::parse_given(text).unwrap()
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let p = password("correct horse battery staple");
        let stored = hash(&p).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(!stored.contains("correct horse"), "{stored}");
        assert_eq!(verify(&p, &stored), Verified::Match { rehash: false });
        assert_eq!(verify(&password("correct horse battery stapl"), &stored), Verified::NoMatch);
        assert_ne!(hash(&p).unwrap(), stored, "a fresh salt each time");
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        assert!(is_current(&dummy), "DUMMY_HASH must use today's parameters: {DUMMY_HASH}");
        let real = hash(&password("any password at all")).unwrap();
        assert_eq!(real.len(), DUMMY_HASH.len(), "the same salt and output lengths");
        assert_eq!(verify_dummy(&password("any password at all")), Verified::NoMatch);
    }

    #[test]
    fn a_hash_with_other_parameters_still_verifies_and_asks_for_a_rehash() {
        let p = password("correct horse battery staple");
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8 * 1024, 1, 1, None).unwrap())
            .hash_password(p.expose_secret())
            .unwrap()
            .to_string();
        assert_eq!(verify(&p, &old), Verified::Match { rehash: true });
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, PARAMS).hash_password(p.expose_secret()).unwrap();
        assert_eq!(verify(&p, &argon2i.to_string()), Verified::Match { rehash: true });
    }

    #[test]
    fn an_unreadable_hash_matches_nothing() {
        assert_eq!(verify(&password("whatever it is"), "not a hash"), Verified::NoMatch);
        assert_eq!(verify(&password("whatever it is"), ""), Verified::NoMatch);
    }
}
