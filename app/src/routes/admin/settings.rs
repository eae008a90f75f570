//! Organisation settings: the name, retention of deleted users and of events, the allowed email
//! domains, the userName = work-email rule and the admins' sign-in requirements. Owners change
//! them; Admins and Viewers see them read-only. The server checks the role either way.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{FieldError, FormError, FormErrors, SubmitButton};
use crate::dto::{OrgSettingsForm, OrgSettingsSaved, OrgSettingsView};
use crate::errors::{AppError, FieldName};

#[server(endpoint = "load_org_settings")]
pub async fn load_org_settings() -> Result<OrgSettingsView, AppError> {
    use crate::ssr::{fail, require, services, to_client, Permission};
    use portal_core::org_settings as os;
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let s = os::get(&svc, &admin.org_id)
        .await
        .map_err(to_client)?
        .ok_or_else(|| {
            fail::<AppError>(
                http::StatusCode::UNAUTHORIZED,
                "Your organisation no longer exists.",
            )
        })?;
    Ok(OrgSettingsView {
        can_edit: admin.role.allows(Permission::Own),
        name: s.name,
        user_retention_days: s.user_retention_days,
        event_retention_days: s.event_retention_days,
        allowed_domains: s.allowed_domains,
        username_equals_work_email: s.username_equals_work_email,
        require_2fa: s.require_2fa,
        require_sso_for_admins: s.require_sso_for_admins,
        max_user_retention_days: os::MAX_USER_RETENTION_DAYS,
        max_event_retention_days: os::MAX_EVENT_RETENTION_DAYS,
    })
}

#[server(endpoint = "save_org_settings")]
pub async fn save_org_settings(
    #[server(flatten)] form: OrgSettingsForm,
) -> Result<OrgSettingsSaved, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    use portal_core::org_settings as os;
    let admin = require(Permission::Own).await?;
    let svc = services()?;
    let change = os::SettingsChange::all(os::SettingsInput {
        name: form.name,
        user_retention_days: form.user_retention_days,
        event_retention_days: form.event_retention_days,
        allowed_domains: form.allowed_domains,
        username_equals_work_email: form.username_equals_work_email,
        require_2fa: form.require_2fa,
        require_sso_for_admins: form.require_sso_for_admins,
    });
    let (_, changes) = os::update(&svc, &admin.org_id, &admin.email, &change)
        .await
        .map_err(to_client)?;
    Ok(OrgSettingsSaved { changes })
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveOrgSettings>::new();
    // Reload after a successful save only: a refused save keeps what the Owner typed.
    let (saves, set_saves) = signal(0u32);
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(_))) {
            set_saves.update(|n| *n += 1);
        }
    });
    let view_res = crate::components::resource(move || saves.get(), |_| load_org_settings());
    view! {
        <Title text="Organisation settings · Identity portal" />
        <h1>"Organisation settings"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                view_res
                    .get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(v) if v.can_edit => view! { <SettingsForm v save /> }.into_any(),
                        Ok(v) => view! { <SettingsReadOnly v /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "On"
    } else {
        "Off"
    }
}

const USERNAME_HELP: &str = "On: SCIM and manual changes are refused when a user's work email \
     differs from their userName (JumpCloud, Google Workspace and most IdPs map both from one \
     attribute). Turn it off for Entra ID or Okta tenants whose userName (UPN) differs from the \
     mail address; SSO then finds a user by userName, or else by work email.";

#[component]
fn SettingsReadOnly(v: OrgSettingsView) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="settings-heading">
            <h2 id="settings-heading">"Current settings"</h2>
            <p class="muted">"Only an Owner of your organisation can change these settings."</p>
            <dl class="facts" data-testid="settings-read-only">
                <dt>"Name"</dt>
                <dd>{v.name.clone()}</dd>
                <dt>"Retention for deleted users"</dt>
                <dd>{format!("{} days", v.user_retention_days)}</dd>
                <dt>"Retention for events"</dt>
                <dd>{format!("{} days", v.event_retention_days)}</dd>
                <dt>"Allowed email domains"</dt>
                <dd>{if v.allowed_domains.is_empty() { "Any domain".to_string() } else { v.allowed_domains.join(", ") }}</dd>
                <dt>"userName must equal the work email"</dt>
                <dd>{on_off(v.username_equals_work_email)}</dd>
                <dt>"Require two-factor authentication for every admin"</dt>
                <dd>{on_off(v.require_2fa)}</dd>
                <dt>"Require single sign-on for admins"</dt>
                <dd>{on_off(v.require_sso_for_admins)}</dd>
            </dl>
        </section>
    }
}

#[component]
fn SettingsForm(v: OrgSettingsView, save: ServerAction<SaveOrgSettings>) -> impl IntoView {
    let errors = FormErrors::of(save);
    let saved = move || {
        save.value().get().and_then(|r| r.ok()).map(|s| {
            let text = if s.changes.is_empty() {
                "Saved: nothing changed.".to_string()
            } else {
                format!("Saved. Changed {}.", s.changes.join("; "))
            };
            view! { <p class="alert ok" role="status" data-testid="settings-saved">{text}</p> }
        })
    };
    let domains = v.allowed_domains.join("\n");
    let domains_now = domains.clone();
    // `value` / `checked` render the page; the `prop:` twins set the live values when a save's
    // reload re-renders this form in place over what the Owner typed.
    view! {
        <section class="card" aria-labelledby="settings-heading">
            <h2 id="settings-heading">"Settings"</h2>
            <ActionForm action=save attr:class="stack" attr:aria-label="Organisation settings">
                <FormError error=errors.summary() />
                <label for="org-name-input">"Organisation name"</label>
                <input
                    id="org-name-input"
                    name="name"
                    type="text"
                    maxlength="100"
                    required
                    value=v.name.clone()
                    prop:value=v.name.clone()
                    aria-invalid=errors.invalid(FieldName::OrgName)
                    aria-describedby=errors.described_by(FieldName::OrgName, "org-name-error")
                />
                <FieldError errors field=FieldName::OrgName id="org-name-error" />
                <label for="user-retention-input">{format!("Retention for deleted users (days, 1–{})", v.max_user_retention_days)}</label>
                <input
                    id="user-retention-input"
                    name="user_retention_days"
                    type="number"
                    min="1"
                    max=v.max_user_retention_days.to_string()
                    required
                    value=v.user_retention_days.to_string()
                    prop:value=v.user_retention_days.to_string()
                    aria-invalid=errors.invalid(FieldName::UserRetentionDays)
                    aria-describedby=errors.described_by(FieldName::UserRetentionDays, "user-retention-error")
                />
                <p class="muted">"A deleted user can be restored, with its history, for this many days; then it is purged for good."</p>
                <FieldError errors field=FieldName::UserRetentionDays id="user-retention-error" />
                <label for="event-retention-input">{format!("Retention for events (days, 1–{})", v.max_event_retention_days)}</label>
                <input
                    id="event-retention-input"
                    name="event_retention_days"
                    type="number"
                    min="1"
                    max=v.max_event_retention_days.to_string()
                    required
                    value=v.event_retention_days.to_string()
                    prop:value=v.event_retention_days.to_string()
                    aria-invalid=errors.invalid(FieldName::EventRetentionDays)
                    aria-describedby=errors.described_by(FieldName::EventRetentionDays, "event-retention-error")
                />
                <p class="muted">"Activity older than this is removed."</p>
                <FieldError errors field=FieldName::EventRetentionDays id="event-retention-error" />
                <label for="allowed-domains-input">"Allowed email domains"</label>
                <textarea
                    id="allowed-domains-input"
                    name="allowed_domains"
                    rows="3"
                    placeholder="example.com, example.org"
                    aria-invalid=errors.invalid(FieldName::AllowedDomains)
                    aria-describedby=errors.described_by(FieldName::AllowedDomains, "allowed-domains-error")
                    prop:value=domains_now
                >{domains}</textarea>
                <p class="muted">"Separate domains with commas or line breaks; leave empty to allow every domain. Each domain is matched exactly (list subdomains separately). SCIM, SSO sign-up (JIT) and manual adds are refused for addresses outside the list; existing users are not changed."</p>
                <FieldError errors field=FieldName::AllowedDomains id="allowed-domains-error" />
                <label class="check">
                    <input type="checkbox" name="username_equals_work_email" value="on" checked=v.username_equals_work_email prop:checked=v.username_equals_work_email />
                    " userName must equal the work email"
                </label>
                <p class="muted">{USERNAME_HELP}</p>
                <label class="check">
                    <input type="checkbox" name="require_2fa" value="on" checked=v.require_2fa prop:checked=v.require_2fa />
                    " Require two-factor authentication for every admin"
                </label>
                <label class="check">
                    <input type="checkbox" name="require_sso_for_admins" value="on" checked=v.require_sso_for_admins prop:checked=v.require_sso_for_admins />
                    " Require single sign-on for admins (Owners keep password + 2FA)"
                </label>
                {saved}
                <SubmitButton pending=save.pending() label="Save settings" pending_label="Saving…" />
            </ActionForm>
        </section>
    }
}
