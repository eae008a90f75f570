//! Turning server-function errors into words for the page.

use leptos::prelude::ServerFnError;

/// The message to show for a failed server function: the server's own words for errors it chose
/// to report, a generic line for transport failures.
pub fn message(err: &ServerFnError) -> String {
    match err {
        ServerFnError::ServerError(msg) => msg.clone(),
        ServerFnError::Request(_) => {
            "The server could not be reached. Check your connection and try again.".into()
        }
        _ => "Something went wrong. Reload the page and try again.".into(),
    }
}
