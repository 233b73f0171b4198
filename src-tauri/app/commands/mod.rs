pub mod exports;
pub mod groups;
pub mod servers;
pub mod startup;
