//! The Test sign-in result page: what the assertion carried and which user field each filled.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::dto::SsoTestView;
use crate::errors::AppError;
use crate::time_fmt::{opt, utc};

#[server(endpoint = "load_sso_test")]
pub async fn load_sso_test(id: String) -> Result<Option<SsoTestView>, AppError> {
    use crate::dto::FieldView;
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    if id.len() > 64 {
        return Ok(None);
    }
    let r = match portal_core::sso::test_result(&svc, &admin.org_id, &id).await {
        Ok(r) => r,
        Err(portal_core::CoreError::NotFound) => return Ok(None),
        Err(e) => return Err(to_client(e)),
    };
    Ok(Some(match r {
        None => SsoTestView {
            done: false,
            success: false,
            failure: None,
            name_id: None,
            name_id_format: None,
            issuer: None,
            certificate_fingerprint: None,
            attributes: Vec::new(),
            fields: Vec::new(),
            at: 0,
        },
        Some(t) => SsoTestView {
            done: true,
            success: t.success,
            failure: t.failure,
            name_id: t.name_id,
            name_id_format: t.name_id_format,
            issuer: t.issuer,
            certificate_fingerprint: t.certificate_fingerprint,
            attributes: t.attributes,
            fields: t
                .profile
                .map(|p| {
                    p.filled
                        .into_iter()
                        .map(|f| FieldView {
                            label: f.field.label().to_string(),
                            value: f.value,
                            from: f.from,
                            expected: f.field.expected(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            at: t.at,
        },
    }))
}

/// The result of a Test sign-in (opened in its own tab by the IdP round trip).
#[component]
pub fn SsoTestPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let res = crate::components::resource(id, load_sso_test);
    view! {
        <Title text="Test sign-in · Identity portal" />
        <h1>"Test sign-in"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                res.get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(None) => view! { <p class="alert error" role="alert">"This test sign-in does not exist."</p> }.into_any(),
                        Ok(Some(t)) if !t.done => view! { <p class="alert warn" role="status">"Waiting for your IdP's answer. Finish signing in at the IdP, then reload this page."</p> }.into_any(),
                        Ok(Some(t)) => view! { <TestResult t /> }.into_any(),
                    })
            }}
        </Transition>
        <p><a href="/admin/sso">"Back to Single Sign-On"</a></p>
    }
}

#[component]
fn TestResult(t: SsoTestView) -> impl IntoView {
    let headline = if t.success {
        view! { <p class="alert ok" role="status" data-testid="test-result">{format!("Success at {}: the assertion was valid. Nobody was signed in.", utc(t.at))}</p> }.into_any()
    } else {
        view! {
            <p class="alert error" role="alert" data-testid="test-result">
                {format!("Failed at {}: {}", utc(t.at), t.failure.clone().unwrap_or_default())}
            </p>
        }
        .into_any()
    };
    let missing: Vec<String> = t
        .fields
        .iter()
        .filter(|f| f.expected && f.value.is_none())
        .map(|f| f.label.clone())
        .collect();
    let missing = (!missing.is_empty()).then(|| {
        view! {
            <p class="alert warn" data-testid="test-missing">
                {format!("Expected but missing: {}. Add these attributes to the IdP's SAML application.", missing.join(", "))}
            </p>
        }
    });
    let fields = t.fields.clone();
    let attributes = t.attributes.clone();
    view! {
        {headline}
        {t.success.then(|| view! {
            <dl class="facts">
                <dt>"NameID"</dt>
                <dd class="mono" data-testid="test-name-id">{t.name_id.clone().unwrap_or_default()}</dd>
                <dt>"NameID format"</dt>
                <dd class="mono">{t.name_id_format.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Issuer"</dt>
                <dd class="mono">{t.issuer.clone().unwrap_or_default()}</dd>
                <dt>"Verified by certificate"</dt>
                <dd class="mono">{t.certificate_fingerprint.clone().unwrap_or_default()}</dd>
            </dl>
        })}
        {missing}
        {(!fields.is_empty()).then(|| view! {
            <h2>"User fields"</h2>
            <table class="data" data-testid="test-fields">
                <thead><tr><th scope="col">"Field"</th><th scope="col">"Value"</th><th scope="col">"From"</th></tr></thead>
                <tbody>
                    {fields.into_iter().map(|f| view! {
                        <tr>
                            <td>{f.label.clone()}</td>
                            <td>{f.value.clone().unwrap_or_else(|| if f.expected { "missing".into() } else { "—".into() })}</td>
                            <td class="mono">{f.from.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
        {(!attributes.is_empty()).then(|| view! {
            <h2>"Attributes received"</h2>
            <table class="data" data-testid="test-attributes">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Values"</th></tr></thead>
                <tbody>
                    {attributes.into_iter().map(|(n, vs)| view! {
                        <tr><td class="mono">{n}</td><td>{vs.join(", ")}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
        <p class="muted">{format!("Checked {}", opt(Some(t.at)))}</p>
    }
}
