use leptos::prelude::*;

use crate::errors::message;

/// The error message of an action's last result, if it failed.
pub fn error_of<T>(v: &Option<Result<T, ServerFnError>>) -> Option<String> {
    match v {
        Some(Err(e)) => Some(message(e)),
        _ => None,
    }
}

/// Shows the error of the last submission of a server action, as an alert.
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error
            .get()
            .map(|msg| view! { <p class="alert error" role="alert">{msg}</p> })
    }
}
