//! The current dataset against a changing world: after every month it equals a full export of that month.

mod crash;
mod months;
mod views;
mod world;
