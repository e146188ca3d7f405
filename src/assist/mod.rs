//! Assist: suggestions computed on the merchant's own server (intents, …).

pub mod intent;
