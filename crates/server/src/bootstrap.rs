//! First start: the admin account. Created once, with the configured password or a random one
//! printed once to stderr; never re-created or changed if an account of that name exists.

use tether_store::{NewAccount, Store};

use crate::api::auth::{hash_password, new_password};
use crate::clock;
use crate::config::AdminConfig;

/// The admin created at this start, with its password when it was generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminBootstrap {
    pub username: String,
    /// `Some` only when the password was generated (and printed).
    pub generated_password: Option<String>,
}

/// Creates the admin if it does not exist. Returns what was created, if anything.
pub async fn bootstrap_admin(
    store: &dyn Store,
    config: &AdminConfig,
) -> Result<Option<AdminBootstrap>, crate::ServerError> {
    if store.account_by_name(&config.username).await?.is_some() {
        return Ok(None);
    }
    let (password, generated) = match &config.password {
        Some(p) => (p.clone(), false),
        None => (new_password(), true),
    };
    let hash = tokio::task::spawn_blocking(move || hash_password(&password).map(|h| (h, password)))
        .await
        .map_err(|e| crate::ServerError::Internal(e.to_string()))?
        .map_err(|e| crate::ServerError::Internal(e.to_string()))?;
    let (hash, password) = hash;
    let account = store
        .create_account(
            &NewAccount {
                name: config.username.clone(),
                password_hash: hash,
                is_admin: true,
            },
            clock::now(),
        )
        .await?;
    if generated {
        eprintln!(
            "tether: created admin account {:?} with password {password}\n\
             tether: this password is shown once; change it with PUT /api/v1/accounts/{}/password",
            account.name, account.id.0
        );
    } else {
        tracing::info!(name = %account.name, "created admin account with the configured password");
    }
    Ok(Some(AdminBootstrap {
        username: account.name,
        generated_password: generated.then_some(password),
    }))
}
