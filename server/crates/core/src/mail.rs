//! Outgoing mail: a file outbox (one `.eml` per message, the default on a laptop) or SMTP
//! (`smtp://` with optional STARTTLS, `smtps://`), fed from the `mail_outbox` table so a failed
//! delivery is retried and never changes what the requester saw.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::Row;

use crate::error::CoreResult;
use crate::ids::new_id;
use crate::Services;

pub enum Transport {
    File(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

pub struct Mailer {
    pub from: Mailbox,
    pub transport: Transport,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = match &self.transport {
            Transport::File(p) => format!("file outbox {}", p.display()),
            Transport::Smtp(_) => "SMTP".to_string(),
        };
        write!(f, "Mailer({t}, from {})", self.from)
    }
}

impl Mailer {
    /// `file://PATH`, `smtp://[user:pass@]host[:port][?starttls=required|opportunistic|never]`,
    /// `smtps://[user:pass@]host[:port]`.
    pub fn from_url(url: &str, from: &str) -> Result<Self, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("MAIL_FROM is not a valid address: {e}"))?;
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err("MAIL_URL file:// needs a directory".into());
            }
            return Ok(Self {
                from,
                transport: Transport::File(PathBuf::from(path)),
            });
        }
        let u = url::Url::parse(url).map_err(|e| format!("MAIL_URL is not a valid URL: {e}"))?;
        let host = u.host_str().ok_or("MAIL_URL has no host")?.to_string();
        let builder = match u.scheme() {
            "smtps" => {
                let tls = TlsParameters::new(host.clone()).map_err(|e| e.to_string())?;
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
                    .port(u.port().unwrap_or(465))
                    .tls(Tls::Wrapper(tls))
            }
            "smtp" => {
                let mode = u
                    .query_pairs()
                    .find(|(k, _)| k == "starttls")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_else(|| "opportunistic".into());
                let b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
                    .port(u.port().unwrap_or(587));
                match mode.as_str() {
                    "never" => b.tls(Tls::None),
                    "required" => b.tls(Tls::Required(
                        TlsParameters::new(host.clone()).map_err(|e| e.to_string())?,
                    )),
                    "opportunistic" => b.tls(Tls::Opportunistic(
                        TlsParameters::new(host.clone()).map_err(|e| e.to_string())?,
                    )),
                    other => {
                        return Err(format!(
                            "MAIL_URL starttls={other}: use required, opportunistic or never"
                        ))
                    }
                }
            }
            other => {
                return Err(format!(
                    "MAIL_URL scheme {other}: use file://, smtp:// or smtps://"
                ))
            }
        };
        let builder = if !u.username().is_empty() {
            let user = urlencoding_decode(u.username());
            let pass = urlencoding_decode(u.password().unwrap_or(""));
            builder.credentials(Credentials::new(user, pass))
        } else {
            builder
        };
        Ok(Self {
            from,
            transport: Transport::Smtp(builder.timeout(Some(Duration::from_secs(20))).build()),
        })
    }

    async fn deliver(&self, msg: &Message) -> Result<String, String> {
        match &self.transport {
            Transport::File(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| e.to_string())?;
                let path = dir.join(format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
                    new_id()
                ));
                tokio::fs::write(&path, msg.formatted())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(path.display().to_string())
            }
            Transport::Smtp(t) => t
                .send(msg.clone())
                .await
                .map(|r| format!("{:?}", r.code()))
                .map_err(|e| e.to_string()),
        }
    }
}

fn urlencoding_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Queues a message in the outbox (inside the caller's transaction).
pub async fn queue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    to: &str,
    subject: &str,
    text: &str,
    html: &str,
    now: i64,
) -> CoreResult<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, created_at, to_addr, subject, body_text, body_html, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $2)",
    )
    .bind(new_id())
    .bind(now)
    .bind(to)
    .bind(subject)
    .bind(text)
    .bind(html)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sends what is due. Failures are logged and retried with backoff (1, 2, 4 … 60 minutes), up to
/// 10 attempts. Returns how many were sent.
/// Delivery attempts before a message is given up.
pub const MAX_ATTEMPTS: i64 = 10;

pub async fn deliver_due(svc: &Services, mailer: &Mailer) -> CoreResult<u64> {
    let now = svc.now();
    let rows = sqlx::query(
        "SELECT id, to_addr, subject, body_text, body_html, attempts FROM mail_outbox \
         WHERE sent_at IS NULL AND attempts < $2 AND next_attempt_at <= $1 ORDER BY created_at LIMIT 50",
    )
    .bind(now)
    .bind(MAX_ATTEMPTS)
    .fetch_all(&svc.db.pool)
    .await?;
    let mut sent = 0;
    for r in rows {
        let id: String = r.try_get("id")?;
        let to: String = r.try_get("to_addr")?;
        let attempts: i64 = r.try_get("attempts")?;
        // Claim it, so two instances do not both send.
        let claimed = sqlx::query("UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $1 WHERE id = $2 AND attempts = $3 AND sent_at IS NULL")
            .bind(now + 60_000 * (1i64 << attempts.min(6)))
            .bind(&id)
            .bind(attempts)
            .execute(&svc.db.pool)
            .await?
            .rows_affected();
        if claimed != 1 {
            continue;
        }
        let msg = build(
            mailer,
            &to,
            &r.try_get::<String, _>("subject")?,
            r.try_get("body_text")?,
            r.try_get("body_html")?,
        );
        let result = match msg {
            Ok(m) => mailer.deliver(&m).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(where_to) => {
                // The body may carry a working sign-in link: once it has left, the database
                // keeps only the envelope.
                sqlx::query("UPDATE mail_outbox SET sent_at = $1, last_error = NULL, body_text = '', body_html = '' WHERE id = $2")
                    .bind(svc.now())
                    .bind(&id)
                    .execute(&svc.db.pool)
                    .await?;
                tracing::info!(to = %to, delivered = %where_to, "mail sent");
                sent += 1;
            }
            Err(e) => {
                tracing::warn!(to = %to, attempt = attempts + 1, error = %e, "mail delivery failed; will retry");
                // After the last attempt the message is given up, and its body dropped.
                let last = attempts + 1 >= MAX_ATTEMPTS;
                sqlx::query(if last {
                    "UPDATE mail_outbox SET last_error = $1, body_text = '', body_html = '' WHERE id = $2"
                } else {
                    "UPDATE mail_outbox SET last_error = $1 WHERE id = $2"
                })
                    .bind(e.chars().take(500).collect::<String>())
                    .bind(&id)
                    .execute(&svc.db.pool)
                    .await?;
            }
        }
    }
    Ok(sent)
}

fn build(
    mailer: &Mailer,
    to: &str,
    subject: &str,
    text: String,
    html: String,
) -> Result<Message, String> {
    let to: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
    Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| e.to_string())
}
