//! One certificate's card: subject, issuer, validity, key, fingerprint and expiry state.

use leptos::prelude::*;

use crate::dto::{CertState, CertView};
use crate::time_fmt::date;

#[component]
pub(super) fn CertDetails(
    c: CertView,
    #[prop(into)] title: String,
    testid: &'static str,
) -> impl IntoView {
    let badge = match c.state {
        CertState::Expired => view! { <span class="badge err-badge">"Expired"</span> }.into_any(),
        CertState::Expiring => {
            view! { <span class="badge warn-badge">"Expires soon"</span> }.into_any()
        }
        CertState::Ok => view! { <span class="badge ok-badge">"Valid"</span> }.into_any(),
    };
    let warning = match c.state {
        CertState::Expired => Some(view! {
            <p class="alert error" role="alert">
                {format!("This certificate expired on {}. Sign-ins signed with a new IdP certificate fail until you add it here.", date(c.not_after))}
            </p>
        }.into_any()),
        CertState::Expiring => Some(view! {
            <p class="alert warn" role="status">
                {format!("This certificate expires on {}. Add the IdP's next certificate below so sign-ins keep working through the rollover.", date(c.not_after))}
            </p>
        }.into_any()),
        CertState::Ok => None,
    };
    view! {
        <div class="cert" data-testid=testid>
            <h3>{title} " " {badge}</h3>
            {warning}
            <dl class="facts">
                <dt>"Subject"</dt>
                <dd>{c.subject.clone()}</dd>
                <dt>"Issuer"</dt>
                <dd>{c.issuer.clone()}</dd>
                <dt>"Serial"</dt>
                <dd class="mono">{c.serial.clone()}</dd>
                <dt>"Valid"</dt>
                <dd>{format!("{} to {}", date(c.not_before), date(c.not_after))}</dd>
                <dt>"Key"</dt>
                <dd>{c.key.clone()}</dd>
                <dt>"SHA-256 fingerprint"</dt>
                <dd class="mono" data-testid=format!("{testid}-fingerprint")>{c.fingerprint.clone()}</dd>
            </dl>
        </div>
    }
}
