pub mod servers;
pub mod startup;
