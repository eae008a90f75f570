pub mod admin;
pub mod admin_login;
pub mod employee;
pub mod home;
pub mod setup;
// Issue 12, your account: forgotten admin passwords.
pub mod password_reset;
// Second factor for admin sign-in (issue 12, two-factor).
pub mod admin_login_verify;
// Setup links for outside IT contacts (issue 13).
pub mod setup_link;
