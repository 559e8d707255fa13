//! `tether sim`: the fleet simulator and load generator. The options and the runs live in
//! `tether-sim` (`tether_sim::cli`); this module only hands them over.

use std::process::ExitCode;

pub use tether_sim::cli::SimArgs;

/// Runs `tether sim ...`.
pub fn sim(args: SimArgs) -> ExitCode {
    tether_sim::cli::main(args)
}
