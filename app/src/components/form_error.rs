use leptos::prelude::*;

use crate::errors::{AppError, FieldName};

/// The error of an action's last result, if it failed.
pub fn failure_of<T>(v: &Option<Result<T, AppError>>) -> Option<AppError> {
    match v {
        Some(Err(e)) => Some(e.clone()),
        _ => None,
    }
}

/// The error message of an action's last result, if it failed.
pub fn error_of<T>(v: &Option<Result<T, AppError>>) -> Option<String> {
    failure_of(v).map(|e| e.message)
}

/// Shows the error of the last submission of a server action, as an alert (the form's summary,
/// at its top).
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error
            .get()
            .map(|msg| view! { <p class="alert error" role="alert">{msg}</p> })
    }
}

/// The last error of one form, for its summary and for the field it names.
#[derive(Clone, Copy)]
pub struct FormErrors(Signal<Option<AppError>>);

impl FormErrors {
    /// The errors of a server action's last submission.
    pub fn of<S>(action: ServerAction<S>) -> Self
    where
        S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
        S::Output: Send + Sync + 'static,
    {
        Self(Signal::derive(move || action.value().with(failure_of)))
    }

    /// The message for the summary at the top of the form.
    pub fn summary(self) -> Signal<Option<String>> {
        Signal::derive(move || self.0.with(|e| e.as_ref().map(|e| e.message.clone())))
    }

    /// The message for `field`, when the last error is about that field.
    pub fn field(self, field: FieldName) -> Option<String> {
        self.0.with(|e| {
            e.as_ref()
                .filter(|e| e.field == Some(field))
                .map(|e| e.message.clone())
        })
    }

    /// Whether the form was refused when the page was rendered, without tracking later changes
    /// (for state the user controls afterwards, like an open `<details>`).
    pub fn refused_at_render(self, field: Option<FieldName>) -> bool {
        self.0.with_untracked(|e| {
            e.as_ref()
                .is_some_and(|e| field.is_none() || e.field == field)
        })
    }

    /// `aria-invalid` of the field's input.
    pub fn invalid(self, field: FieldName) -> impl Fn() -> Option<&'static str> + Send + Sync {
        move || self.field(field).map(|_| "true")
    }

    /// `aria-describedby` of the field's input: its message, while there is one.
    pub fn described_by(
        self,
        field: FieldName,
        message_id: impl Into<String>,
    ) -> impl Fn() -> Option<String> + Send + Sync {
        let message_id = message_id.into();
        move || self.field(field).map(|_| message_id.clone())
    }
}

/// The message next to one field (the input points at it with `aria-describedby`).
#[component]
pub fn FieldError(errors: FormErrors, field: FieldName, #[prop(into)] id: String) -> impl IntoView {
    move || {
        let id = id.clone();
        errors
            .field(field)
            .map(|msg| view! { <p class="field-error" id=id>{msg}</p> })
    }
}

/// A submit button that says it is working and cannot be pressed again meanwhile.
#[component]
pub fn SubmitButton(
    #[prop(into)] pending: Signal<bool>,
    label: &'static str,
    pending_label: &'static str,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            class=(!class.is_empty()).then_some(class)
            disabled=move || pending.get()
            aria-busy=move || pending.get().then_some("true")
        >
            {move || if pending.get() { pending_label } else { label }}
        </button>
    }
}

/// A new password and its repetition, with their field errors (setup, an accepted invitation, a
/// password reset, a password change). The inputs are named `{name}` and `{name}_confirm`; the
/// server reports them as `FieldName::Password` / `FieldName::PasswordConfirm`.
#[component]
pub fn NewPasswordFields(
    errors: FormErrors,
    #[prop(default = "password")] name: &'static str,
    #[prop(default = "Password (at least 12 characters)")] label: &'static str,
    #[prop(default = "Repeat the password")] repeat_label: &'static str,
) -> impl IntoView {
    let confirm = format!("{name}_confirm");
    let (error_id, confirm_error_id) = (format!("{name}-error"), format!("{confirm}-error"));
    view! {
        <label for=name>{label}</label>
        <input
            id=name type="password" name=name required minlength="12" maxlength="256" autocomplete="new-password"
            aria-invalid=errors.invalid(FieldName::Password)
            aria-describedby=errors.described_by(FieldName::Password, error_id.clone())
        />
        <FieldError errors field=FieldName::Password id=error_id />
        <label for=confirm.clone()>{repeat_label}</label>
        <input
            id=confirm.clone() type="password" name=confirm.clone() required minlength="12" maxlength="256" autocomplete="new-password"
            aria-invalid=errors.invalid(FieldName::PasswordConfirm)
            aria-describedby=errors.described_by(FieldName::PasswordConfirm, confirm_error_id.clone())
        />
        <FieldError errors field=FieldName::PasswordConfirm id=confirm_error_id />
    }
}
