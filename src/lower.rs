//! Lower: the checked experiment onto dfdx — parameters, forward passes,
//! losses and optimizer updates. Only this stage and `ops` know dfdx.

pub mod init;
pub mod loss;
pub mod model;
pub mod optimizer;
pub mod params;
