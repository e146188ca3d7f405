pub mod intent;
