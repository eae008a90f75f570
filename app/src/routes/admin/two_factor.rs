//! Two-factor authentication of the signed-in admin's own account (`/admin/account/2fa`): an
//! authenticator app (TOTP) with recovery codes, and passkeys. Any role may manage its own
//! factors; the functions here serve an admin whom `orgs.require_2fa` sends to this screen
//! (`require_enrolling`), every other screen refuses them until they have a factor.
//!
//! Passkeys need `navigator.credentials`, which `/passkeys.js` (a static file: the CSP allows no
//! inline script) drives: it calls [`passkey_register_begin`] / [`passkey_register_finish`] and
//! reloads the page.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{error_of, FormError, SubmitButton};
use crate::dto::{RecoveryCodes, TwoFactorView};
use crate::errors::AppError;
use crate::time_fmt::{opt, utc};

/// The enrolment screen, where the shell sends an admin who owes their organisation a factor.
pub const ENROL_PATH: &str = "/admin/account/2fa";
/// The static script that runs the WebAuthn ceremonies.
pub const PASSKEYS_JS: &str = "/passkeys.js";

#[server(endpoint = "load_two_factor")]
pub async fn load_two_factor() -> Result<TwoFactorView, AppError> {
    use crate::ssr::{require_enrolling, services, to_client, Permission};
    let admin = require_enrolling(Permission::Read).await?.actor();
    let svc = services()?;
    let status = portal_core::two_factor::status(&svc.db, &admin)
        .await
        .map_err(to_client)?;
    let passkeys = portal_core::passkeys::list(&svc.db, &admin.id)
        .await
        .map_err(to_client)?;
    Ok(TwoFactorView {
        has_factor: status.totp_enabled || status.passkeys > 0,
        totp_enabled: status.totp_enabled,
        totp_setup: status.totp_setup.map(|s| crate::dto::TotpSetupView {
            manual_key: s.manual_key,
            qr_data_url: s.qr_data_url,
        }),
        recovery_codes_left: status.recovery_codes_left,
        passkeys: passkeys
            .into_iter()
            .map(|p| crate::dto::PasskeyView {
                id: p.id,
                name: p.name,
                created_at: p.created_at,
                last_used_at: p.last_used_at,
            })
            .collect(),
        passkeys_available: portal_core::passkeys::available(&svc),
        org_requires: status.org_requires,
    })
}

#[server(endpoint = "begin_totp")]
pub async fn begin_totp() -> Result<(), AppError> {
    use crate::ssr::{require_enrolling, services, to_client, Permission};
    let admin = require_enrolling(Permission::Read).await?.actor();
    let svc = services()?;
    portal_core::two_factor::begin_totp(&svc, &admin)
        .await
        .map_err(to_client)
}

#[server(endpoint = "confirm_totp")]
pub async fn confirm_totp(code: String) -> Result<RecoveryCodes, AppError> {
    use crate::ssr::{require_enrolling, services, to_client, Permission};
    let admin = require_enrolling(Permission::Read).await?.actor();
    let svc = services()?;
    let codes = portal_core::two_factor::confirm_totp(&svc, &admin, &code)
        .await
        .map_err(to_client)?;
    Ok(RecoveryCodes {
        codes: codes.into_iter().map(|c| c.into_exposed()).collect(),
    })
}

/// Turns the app off (needs a current code or the password), or abandons a setup (needs
/// nothing: `proof` may be empty).
#[server(endpoint = "disable_totp")]
pub async fn disable_totp(proof: String) -> Result<(), AppError> {
    use crate::ssr::{require_enrolling, services, to_client, Permission};
    let admin = require_enrolling(Permission::Read).await?.actor();
    let svc = services()?;
    portal_core::two_factor::disable_totp(&svc, &admin, &proof)
        .await
        .map_err(to_client)
}

#[server(endpoint = "regenerate_recovery_codes")]
pub async fn regenerate_recovery_codes() -> Result<RecoveryCodes, AppError> {
    use crate::ssr::{require_enrolling, services, to_client, Permission};
    let admin = require_enrolling(Permission::Read).await?.actor();
    let svc = services()?;
    let codes = portal_core::two_factor::regenerate_recovery_codes(&svc, &admin)
        .await
        .map_err(to_client)?;
    Ok(RecoveryCodes {
        codes: codes.into_iter().map(|c| c.into_exposed()).collect(),
    })
}

/// The `navigator.credentials.create` options (JSON) for a new passkey named `name`; the
/// challenge stays in the session.
#[server(endpoint = "passkey_register_begin")]
pub async fn passkey_register_begin(name: String) -> Result<String, AppError> {
    use crate::ssr::{require_enrolling, services, session, to_client, Permission};
    let admin = require_enrolling(Permission::Read).await?.actor();
    let svc = services()?;
    let (options, ceremony) = portal_core::passkeys::begin_registration(&svc, &admin, &name)
        .await
        .map_err(to_client)?;
    let session = session().await?;
    portal_core::session::put_passkey_ceremony(&session, &ceremony)
        .await
        .map_err(to_client)?;
    Ok(options)
}

/// The browser's answer to [`passkey_register_begin`] (the credential as JSON).
#[server(endpoint = "passkey_register_finish")]
pub async fn passkey_register_finish(credential: String) -> Result<(), AppError> {
    use crate::ssr::{require_enrolling, services, session, to_client, Permission};
    let admin = require_enrolling(Permission::Read).await?.actor();
    let svc = services()?;
    let session = session().await?;
    let ceremony = portal_core::session::take_passkey_ceremony(&session)
        .await
        .map_err(to_client)?;
    portal_core::passkeys::finish_registration(&svc, &admin, ceremony, &credential)
        .await
        .map_err(to_client)?;
    Ok(())
}

/// Removes one of the caller's own passkeys (another admin's id is "not found").
#[server(endpoint = "remove_passkey")]
pub async fn remove_passkey(id: String) -> Result<(), AppError> {
    use crate::ssr::{require_enrolling, services, to_client, Permission};
    let admin = require_enrolling(Permission::Read).await?.actor();
    let svc = services()?;
    portal_core::passkeys::remove(&svc, &admin, &id)
        .await
        .map_err(|e| match e {
            portal_core::CoreError::NotFound => crate::ssr::fail(
                http::StatusCode::NOT_FOUND,
                "There is no such passkey on your account.",
            ),
            e => to_client(e),
        })
}

#[component]
pub fn TwoFactorPage() -> impl IntoView {
    let begin = ServerAction::<BeginTotp>::new();
    let confirm = ServerAction::<ConfirmTotp>::new();
    let disable = ServerAction::<DisableTotp>::new();
    let regenerate = ServerAction::<RegenerateRecoveryCodes>::new();
    let remove = ServerAction::<RemovePasskey>::new();
    let data = crate::components::resource(
        move || {
            (
                begin.version().get(),
                confirm.version().get(),
                disable.version().get(),
                regenerate.version().get(),
                remove.version().get(),
            )
        },
        |_| load_two_factor(),
    );
    // The codes of the latest confirmation or regeneration, shown once.
    let (shown, set_shown) = signal(None::<RecoveryCodes>);
    // The shell learns that a factor now exists (it stops sending the admin here).
    let shell = use_context::<super::AdminResource>();
    Effect::new(move |_| {
        if let Some(Ok(codes)) = confirm.value().get() {
            set_shown.set(Some(codes));
            if let Some(super::AdminResource(admin)) = shell {
                admin.refetch();
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(codes)) = regenerate.value().get() {
            set_shown.set(Some(codes));
        }
    });
    Effect::new(move |_| {
        if disable.version().get() > 0 {
            set_shown.set(None);
        }
    });
    view! {
        <Title text="Two-factor authentication · Identity portal" />
        <h1>"Two-factor authentication"</h1>
        <p class="muted">
            "After your password, signing in asks for a second step: a code from an authenticator app, or a passkey on this device or your phone."
        </p>
        {move || {
            shown
                .get()
                .map(|codes| {
                    view! {
                        <div class="card secret-once" role="region" aria-label="Recovery codes" data-testid="recovery-codes">
                            <h2>"Your recovery codes"</h2>
                            <p>
                                "Save these codes somewhere safe now: they are shown only once. Each one works once, in place of your app or passkey."
                            </p>
                            <ol class="recovery-codes">
                                {codes
                                    .codes
                                    .into_iter()
                                    .map(|c| view! { <li><code class="mono">{c}</code></li> })
                                    .collect_view()}
                            </ol>
                        </div>
                    }
                })
        }}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                data.get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(v) => view! { <Sections v begin confirm disable regenerate remove /> }.into_any(),
                    })
            }}
        </Transition>
        <script src=PASSKEYS_JS defer></script>
    }
}

#[component]
fn Sections(
    v: TwoFactorView,
    begin: ServerAction<BeginTotp>,
    confirm: ServerAction<ConfirmTotp>,
    disable: ServerAction<DisableTotp>,
    regenerate: ServerAction<RegenerateRecoveryCodes>,
    remove: ServerAction<RemovePasskey>,
) -> impl IntoView {
    let required = (v.org_requires && !v.has_factor).then(|| {
        view! {
            <p class="alert warn" role="alert" data-testid="2fa-required">
                "Your organisation requires two-factor authentication. Set up an authenticator app or a passkey to use the portal."
            </p>
        }
    });
    let app = if v.totp_enabled {
        view! {
            <p data-testid="totp-status">
                <span class="badge ok-badge">"On"</span>
                " Signing in asks for a code from your authenticator app."
            </p>
            <ActionForm action=disable attr:class="stack" attr:aria-label="Turn off the authenticator app">
                <FormError error=Signal::derive(move || disable.value().with(error_of)) />
                <label for="totp-off-proof">"Current code from your app, or your password"</label>
                <input id="totp-off-proof" type="password" name="proof" autocomplete="current-password" required maxlength="256" />
                <SubmitButton pending=disable.pending() class="secondary" label="Turn off authenticator app" pending_label="Turning off…" />
            </ActionForm>
        }
        .into_any()
    } else if let Some(setup) = v.totp_setup.clone() {
        view! {
            <p data-testid="totp-status">
                <span class="badge">"Setting up"</span>
            </p>
            <ol class="steps">
                <li>"Scan this QR code with your authenticator app (or type the key below into it)."</li>
                <li>"Enter the 6-digit code the app shows to finish."</li>
            </ol>
            <img class="qr" src=setup.qr_data_url alt="QR code to add this account to your authenticator app" width="200" height="200" data-testid="totp-qr" />
            <p>
                "Key: " <code class="mono" data-testid="totp-key">{setup.manual_key}</code>
            </p>
            <ActionForm action=confirm attr:class="stack" attr:aria-label="Confirm the authenticator app">
                <FormError error=Signal::derive(move || confirm.value().with(error_of)) />
                <label for="totp-confirm-code">"Code from the app"</label>
                <input id="totp-confirm-code" type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" required maxlength="7" />
                <SubmitButton pending=confirm.pending() label="Turn on" pending_label="Checking…" />
            </ActionForm>
            <ActionForm action=disable attr:class="inline">
                <input type="hidden" name="proof" value="" />
                <SubmitButton pending=disable.pending() class="link-button" label="Cancel setup" pending_label="Cancelling…" />
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <p data-testid="totp-status">
                <span class="badge">"Off"</span>
            </p>
            <ActionForm action=begin attr:class="stack" attr:aria-label="Set up an authenticator app">
                <FormError error=Signal::derive(move || begin.value().with(error_of)) />
                <SubmitButton pending=begin.pending() label="Set up authenticator app" pending_label="Preparing…" />
            </ActionForm>
        }
        .into_any()
    };
    let recovery = if v.has_factor {
        view! {
            <p data-testid="recovery-left">
                {format!("{} of 10 recovery codes left.", v.recovery_codes_left)}
            </p>
            <ActionForm action=regenerate attr:class="stack" attr:aria-label="Generate new recovery codes">
                <FormError error=Signal::derive(move || regenerate.value().with(error_of)) />
                <SubmitButton pending=regenerate.pending() class="secondary" label="Generate new recovery codes" pending_label="Generating…" />
            </ActionForm>
        }
        .into_any()
    } else {
        view! { <p class="muted">"Recovery codes come with your first authenticator app."</p> }
            .into_any()
    };
    let rows = v
        .passkeys
        .iter()
        .cloned()
        .map(|p| {
            let label = format!("Remove passkey {}", p.name);
            view! {
                <tr data-testid="passkey-row">
                    <td>{p.name.clone()}</td>
                    <td>{utc(p.created_at)}</td>
                    <td>{opt(p.last_used_at)}</td>
                    <td>
                        <ActionForm action=remove attr:class="inline">
                            <input type="hidden" name="id" value=p.id.clone() />
                            <button type="submit" class="link-button" aria-label=label>"Remove"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let passkey_list = if v.passkeys.is_empty() {
        view! { <p class="muted" data-testid="no-passkeys">"No passkeys yet."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap">
            <table class="data">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Added"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            </div>
        }
        .into_any()
    };
    let add_passkey = if v.passkeys_available {
        view! {
            <form class="stack" data-passkey-register="" aria-label="Add a passkey">
                <p class="alert error" role="alert" data-passkey-error="" hidden></p>
                <label for="passkey-name">"Name of the new passkey"</label>
                <input id="passkey-name" type="text" name="name" required maxlength="60" placeholder="Work laptop" />
                <button type="submit">"Add passkey"</button>
                <p class="muted" role="status" data-passkey-status=""></p>
            </form>
        }
        .into_any()
    } else {
        view! {
            <p class="muted">
                "Passkeys need the portal to be served under a domain name; ask your operator. Use an authenticator app meanwhile."
            </p>
        }
        .into_any()
    };
    view! {
        {required}
        <section class="card" aria-labelledby="totp-heading">
            <h2 id="totp-heading">"Authenticator app"</h2>
            {app}
        </section>
        <section class="card" aria-labelledby="recovery-heading">
            <h2 id="recovery-heading">"Recovery codes"</h2>
            {recovery}
        </section>
        <section class="card" aria-labelledby="passkeys-heading">
            <h2 id="passkeys-heading">"Passkeys"</h2>
            <FormError error=Signal::derive(move || remove.value().with(error_of)) />
            {passkey_list}
            {add_passkey}
        </section>
    }
}
