pub mod browse;
pub mod convert;
pub mod exports;
pub mod groups;
pub mod keys;
pub mod profiles;
pub mod servers;
pub mod startup;
