//! Signing in and out, first-start setup, password change and reset, login throttling, and
//! the user records behind them.

pub mod account;
pub mod login;
pub mod password_reset;
pub mod setup;
pub mod throttle;
pub mod users;

pub use throttle::LoginThrottle;
