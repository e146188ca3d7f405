//! Signing in and out, the second factor (TOTP, passkeys and recovery codes) and the sessions list,
//! first-start setup, password change and reset, login throttling, notice mails, and the user
//! records behind them.

pub mod account;
pub mod enrolment;
pub mod failed_sign_in;
pub mod login;
pub mod notices;
pub mod passkey_pages;
pub mod passkeys;
pub mod password_reset;
pub mod second_step;
pub mod security;
pub mod setup;
pub mod throttle;
pub mod two_factor;
pub mod users;

pub use throttle::LoginThrottle;
