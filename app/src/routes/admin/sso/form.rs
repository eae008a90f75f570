//! The SSO settings form: endpoint, certificate(s) pasted or uploaded, metadata import, options.

use leptos::prelude::*;

use super::certificate::CertDetails;
use super::{PreviewSsoMetadata, SaveSso};
use crate::components::{error_of, FieldError, FormError, FormErrors, SubmitButton};
use crate::dto::SsoConfigView;
use crate::errors::FieldName;

/// Reads an uploaded certificate or metadata file into a form field (PEM/XML as text; DER as
/// base64, which the server accepts too).
fn read_file_into(
    ev: leptos::ev::Event,
    set: WriteSignal<String>,
    err: WriteSignal<Option<String>>,
) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        if file.size() > 512.0 * 1024.0 {
            err.set(Some(
                "That file is larger than 512 KiB: it is not a certificate or metadata file."
                    .into(),
            ));
            return;
        }
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                Ok(buf) => {
                    let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                    let text = match String::from_utf8(bytes) {
                        Ok(t) => t,
                        Err(e) => {
                            use base64::Engine;
                            base64::engine::general_purpose::STANDARD.encode(e.into_bytes())
                        }
                    };
                    err.set(None);
                    set.set(text);
                }
                Err(_) => err.set(Some("The file could not be read.".into())),
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, set, err);
    }
}

#[component]
pub(super) fn SsoForm(config: Option<SsoConfigView>, save: ServerAction<SaveSso>) -> impl IntoView {
    let c = config.clone();
    let (sso_url, set_sso_url) = signal(c.as_ref().map(|c| c.sso_url.clone()).unwrap_or_default());
    let (cert, set_cert) = signal(
        c.as_ref()
            .map(|c| c.certificate.pem.clone())
            .unwrap_or_default(),
    );
    let (next, set_next) = signal(
        c.as_ref()
            .and_then(|c| c.next_certificate.as_ref().map(|n| n.pem.clone()))
            .unwrap_or_default(),
    );
    let (issuer, set_issuer) = signal(
        c.as_ref()
            .map(|c| c.idp_entity_id.clone())
            .unwrap_or_default(),
    );
    let jit = c.as_ref().map(|c| c.jit_enabled).unwrap_or(true);
    let require = c.as_ref().map(|c| c.require_sso).unwrap_or(false);
    let refuse_unsolicited = c.as_ref().map(|c| c.refuse_unsolicited).unwrap_or(false);
    let (file_error, set_file_error) = signal(None::<String>);
    let (metadata, set_metadata) = signal(String::new());
    let preview = ServerAction::<PreviewSsoMetadata>::new();
    let errors = FormErrors::of(save);
    let apply = move |_| {
        if let Some(Ok(p)) = preview.value().get_untracked() {
            set_sso_url.set(p.sso_url.clone());
            set_issuer.set(p.idp_entity_id.clone());
            set_cert.set(p.certificate.pem.clone());
            set_next.set(p.next_certificate.map(|n| n.pem).unwrap_or_default());
        }
    };
    let saved = move || {
        save.value().get().is_some_and(|r| r.is_ok()).then(
            || view! { <p class="alert ok" role="status" data-testid="sso-saved">"Saved."</p> },
        )
    };
    view! {
        <section class="card" aria-labelledby="idp-config">
            <h2 id="idp-config">{if config.is_some() { "Change the identity provider" } else { "Connect your identity provider" }}</h2>
            <ActionForm action=save attr:class="stack" attr:aria-label="Identity provider settings">
                <FormError error=errors.summary() />
                <FormError error=file_error />
                <label for="sso-url-input">"SAML 2.0 endpoint (HTTP)"</label>
                <input
                    id="sso-url-input"
                    name="sso_url"
                    type="url"
                    placeholder="https://sso.jumpcloud.com/saml2/your-app"
                    maxlength="2048"
                    aria-invalid=errors.invalid(FieldName::SsoUrl)
                    aria-describedby=errors.described_by(FieldName::SsoUrl, "sso-url-error")
                    prop:value=sso_url
                    on:input=move |ev| set_sso_url.set(event_target_value(&ev))
                />
                <FieldError errors field=FieldName::SsoUrl id="sso-url-error" />
                <label for="cert-input">"Public certificate"</label>
                <textarea
                    id="cert-input"
                    name="certificate"
                    rows="8"
                    class="mono"
                    placeholder="-----BEGIN CERTIFICATE-----"
                    aria-invalid=errors.invalid(FieldName::Certificate)
                    aria-describedby=errors.described_by(FieldName::Certificate, "cert-error")
                    prop:value=cert
                    on:input=move |ev| set_cert.set(event_target_value(&ev))
                >{cert.get_untracked()}</textarea>
                <FieldError errors field=FieldName::Certificate id="cert-error" />
                <label for="cert-file">"…or upload the certificate file (.pem, .crt, .cer)"</label>
                <input
                    id="cert-file"
                    type="file"
                    accept=".pem,.crt,.cer,.der"
                    on:change=move |ev| read_file_into(ev, set_cert, set_file_error)
                />
                <label for="issuer-input">"IdP entity ID (Issuer), optional"</label>
                <input
                    id="issuer-input"
                    name="idp_entity_id"
                    type="text"
                    maxlength="1024"
                    aria-invalid=errors.invalid(FieldName::IdpEntityId)
                    aria-describedby=errors.described_by(FieldName::IdpEntityId, "issuer-error")
                    prop:value=issuer
                    on:input=move |ev| set_issuer.set(event_target_value(&ev))
                />
                <FieldError errors field=FieldName::IdpEntityId id="issuer-error" />
                <details
                    class="rollover"
                    open=!next.get_untracked().is_empty() || errors.refused_at_render(Some(FieldName::NextCertificate))
                >
                    <summary>"Next certificate (for rollover), optional"</summary>
                    <textarea
                        id="next-cert-input"
                        name="next_certificate"
                        rows="6"
                        class="mono"
                        aria-label="Next certificate"
                        aria-invalid=errors.invalid(FieldName::NextCertificate)
                        aria-describedby=errors.described_by(FieldName::NextCertificate, "next-cert-error")
                        prop:value=next
                        on:input=move |ev| set_next.set(event_target_value(&ev))
                    >{next.get_untracked()}</textarea>
                    <FieldError errors field=FieldName::NextCertificate id="next-cert-error" />
                    <label for="next-cert-file">"…or upload it"</label>
                    <input
                        id="next-cert-file"
                        type="file"
                        accept=".pem,.crt,.cer,.der"
                        on:change=move |ev| read_file_into(ev, set_next, set_file_error)
                    />
                </details>
                <label class="check">
                    <input type="checkbox" name="jit_enabled" value="on" checked=jit />
                    " JIT provisioning: create an account at first sign-in for people your IdP lets in"
                </label>
                <label class="check">
                    <input type="checkbox" name="require_sso" value="on" checked=require />
                    " Require SSO: employees cannot sign in with email links (admins keep password sign-in)"
                </label>
                <label class="check">
                    <input type="checkbox" name="refuse_unsolicited" value="on" checked=refuse_unsolicited />
                    " Refuse IdP-initiated sign-in: employees start at the sign-in page (no launch from the IdP's dashboard; rules out login CSRF)"
                </label>
                <label class="check">
                    <input type="checkbox" name="accept_expired" value="on" />
                    " I understand the certificate has expired (save it anyway)"
                </label>
                {saved}
                <SubmitButton pending=save.pending() label="Save" pending_label="Saving…" />
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="metadata-import">
            <h2 id="metadata-import">"Import IdP metadata"</h2>
            <p class="muted">"Paste or upload your IdP's metadata XML: the endpoint, entity ID and certificate(s) are read from it. Nothing is saved until you save the form above."</p>
            <ActionForm action=preview attr:class="stack" attr:aria-label="Import IdP metadata">
                <label for="metadata-input">"IdP metadata XML"</label>
                <textarea
                    id="metadata-input"
                    name="xml"
                    rows="6"
                    class="mono"
                    prop:value=metadata
                    on:input=move |ev| set_metadata.set(event_target_value(&ev))
                ></textarea>
                <label for="metadata-file">"…or upload the metadata file"</label>
                <input
                    id="metadata-file"
                    type="file"
                    accept=".xml"
                    on:change=move |ev| read_file_into(ev, set_metadata, set_file_error)
                />
                <FormError error=Signal::derive(move || preview.value().with(error_of)) />
                <SubmitButton pending=preview.pending() class="secondary" label="Preview import" pending_label="Reading the metadata…" />
            </ActionForm>
            {move || {
                preview
                    .value()
                    .get()
                    .and_then(|r| r.ok())
                    .map(|p| {
                        let changes = p.changes.clone();
                        view! {
                            <div class="preview" data-testid="metadata-preview">
                                <h3>"What would change"</h3>
                                {if changes.is_empty() {
                                    view! { <p>"Nothing: the metadata matches the saved settings."</p> }.into_any()
                                } else {
                                    view! { <ul>{changes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ul> }.into_any()
                                }}
                                <CertDetails c=p.certificate.clone() title="Certificate in the metadata" testid="preview-cert" />
                                <button type="button" on:click=apply>"Use these values"</button>
                                <p class="muted">"Then review the form above and save."</p>
                            </div>
                        }
                    })
            }}
        </section>
    }
}
