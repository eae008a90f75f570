//! Shared widgets.

mod copy_field;
mod form_error;
mod resource;
mod role_gate;

pub use copy_field::CopyField;
pub use form_error::{
    error_of, failure_of, FieldError, FormError, FormErrors, NewPasswordFields, SubmitButton,
};
pub use resource::{resource, Json, JsonResource};
pub use role_gate::{current_role, IfCan, ReadOnlyNotice};
