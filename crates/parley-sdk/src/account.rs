//! The signed-in account over HTTP (docs/protocol.md 2.3): the account,
//! its sessions, ending them, changing the password.

use crate::client::now_ms;
use crate::http::{self, with_bearer};
use crate::{Client, SdkError};
use parley_proto::v1 as pb;
use reqwest::Method;

/// Refresh first when the access token has less than this left.
const REFRESH_MARGIN_MS: i64 = 60_000;

impl Client {
    /// An access token good for at least another minute, refreshed if
    /// needed (one refresh at a time, shared with reconnects).
    async fn access_token(&self) -> Result<String, SdkError> {
        let now = now_ms();
        let (token, expires, refresh) = {
            let t = self.inner.tokens.lock();
            (
                t.access_token.clone(),
                t.access_expires_at_ms,
                t.refresh_token.clone(),
            )
        };
        if expires - now > REFRESH_MARGIN_MS {
            return Ok(token);
        }
        let _one = self.inner.refreshing.lock().await;
        if self.inner.tokens.lock().refresh_token != refresh {
            return Ok(self.inner.tokens.lock().access_token.clone());
        }
        let fresh = http::refresh(&self.inner.http, self.current_url(), &refresh).await?;
        let token = fresh.access_token.clone();
        *self.inner.tokens.lock() = fresh;
        Ok(token)
    }

    async fn account_call<R: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<R, SdkError> {
        let token = self.access_token().await?;
        let url = format!("{}{path}", self.current_url());
        with_bearer(&self.inner.http, method, &url, &token, body).await
    }

    /// This account (its role, and whether it is active).
    pub async fn account(&self) -> Result<pb::Account, SdkError> {
        self.account_call(Method::GET, "/v1/account", None).await
    }

    /// This account's sessions, most recently seen first (`current` marks
    /// this client's).
    pub async fn sessions(&self) -> Result<Vec<pb::Session>, SdkError> {
        let list: pb::SessionList = self
            .account_call(Method::GET, "/v1/account/sessions", None)
            .await?;
        Ok(list.sessions)
    }

    /// Ends the listed sessions of this account (their sockets close and
    /// their tokens are refused at once).
    pub async fn end_sessions(&self, session_ids: &[&str]) -> Result<(), SdkError> {
        let body = serde_json::json!({ "sessionIds": session_ids });
        self.account_call::<serde_json::Value>(
            Method::POST,
            "/v1/account/sessions/end",
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// Signs out every other device of this account.
    pub async fn end_other_sessions(&self) -> Result<(), SdkError> {
        let body = serde_json::json!({ "allOthers": true });
        self.account_call::<serde_json::Value>(
            Method::POST,
            "/v1/account/sessions/end",
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// Sets what others see: a display name (empty: the username) and a
    /// status line.
    pub async fn update_profile(
        &self,
        display_name: &str,
        status_text: &str,
    ) -> Result<pb::Account, SdkError> {
        let body = serde_json::json!({ "displayName": display_name, "statusText": status_text });
        self.account_call(Method::PUT, "/v1/account/profile", Some(&body))
            .await
    }

    /// The people who share a conversation with this account, by username,
    /// optionally those whose username or display name starts with `prefix`.
    pub async fn people(&self, prefix: &str) -> Result<Vec<pb::User>, SdkError> {
        let path = format!(
            "/v1/account/people?prefix={}",
            url::form_urlencoded::byte_serialize(prefix.as_bytes()).collect::<String>()
        );
        let list: pb::UsersList = self.account_call(Method::GET, &path, None).await?;
        Ok(list.users)
    }

    /// Changes the password; every other session of the account ends.
    pub async fn change_password(&self, old: &str, new: &str) -> Result<(), SdkError> {
        let body = serde_json::json!({ "oldPassword": old, "newPassword": new });
        self.account_call::<serde_json::Value>(Method::POST, "/v1/account/password", Some(&body))
            .await?;
        Ok(())
    }
}
