use leptos::prelude::*;

/// A read-only value with a Copy button; the result is announced to screen readers.
#[component]
pub fn CopyField(
    /// Visible label, also the accessible name of the field.
    label: &'static str,
    value: String,
    /// Stable id prefix for the input (tests and `<label for>`).
    id: &'static str,
) -> impl IntoView {
    let (status, set_status) = signal(String::new());
    let to_copy = value.clone();
    let copy = move |_| {
        let text = to_copy.clone();
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let promise = clipboard.write_text(&text);
            let set_status = set_status;
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(promise).await {
                    Ok(_) => set_status.set("Copied".into()),
                    Err(_) => set_status.set("Copy failed: select the text and copy it".into()),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = text;
            set_status.set(String::new());
        }
    };
    view! {
        <div class="copy-field">
            <label for=id>{label}</label>
            <div class="copy-row">
                <input id=id type="text" readonly value=value class="mono" />
                <button type="button" class="secondary" on:click=copy aria-label=format!("Copy {label}")>
                    "Copy"
                </button>
                <span class="copy-status" role="status" aria-live="polite">
                    {move || status.get()}
                </span>
            </div>
        </div>
    }
}
