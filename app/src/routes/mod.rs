pub mod admin;
pub mod admin_login;
pub mod employee;
pub mod home;
pub mod setup;
