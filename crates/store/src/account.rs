//! Operator accounts and their API tokens, as stored.
//!
//! Password hashing and token generation happen in the server: the store keeps the argon2 PHC
//! string and the SHA-256 digest of each token, never a secret in clear.

use crate::Timestamp;

/// The identifier of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub i64);

/// An operator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    /// Unique login name.
    pub name: String,
    /// The argon2 hash in PHC string format (`$argon2id$v=19$...`).
    pub password_hash: String,
    /// Admins see every device; other accounts see only the devices they own.
    pub is_admin: bool,
    pub created_at: Timestamp,
}

/// What is needed to create an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub name: String,
    pub password_hash: String,
    pub is_admin: bool,
}

/// The identifier of an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId(pub i64);

/// The SHA-256 digest of an API token's secret. The secret itself is never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

/// An API token as listed (without any secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub account_id: AccountId,
    /// A label chosen by the owner ("ci", "laptop"), unique per account.
    pub name: String,
    pub hash: TokenHash,
    pub created_at: Timestamp,
    /// After this instant the token no longer authenticates. `None`: never expires.
    pub expires_at: Option<Timestamp>,
}

/// What is needed to create an API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub account_id: AccountId,
    pub name: String,
    pub hash: TokenHash,
    pub expires_at: Option<Timestamp>,
}

/// A token that authenticated, and the account it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub token: ApiToken,
    pub account: Account,
}
