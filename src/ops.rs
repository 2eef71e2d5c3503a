// TEMP STUB
use dfdx::prelude::*;
#[derive(Clone, Copy, Debug)]
pub enum Padding {
    Valid,
    Same,
}
#[derive(Clone, Copy, Debug)]
pub enum PoolKind {
    Max,
    Avg,
}
#[derive(Clone, Debug)]
pub struct Pool2dSpec {
    pub kind: PoolKind,
    pub size: (usize, usize),
    pub stride: (usize, usize),
    pub padding: Padding,
}
#[derive(Clone, Debug)]
pub struct Conv2dSpec {
    pub stride: (usize, usize),
    pub padding: Padding,
    pub relu: bool,
    pub input_grad: bool,
    pub pool: Option<Pool2dSpec>,
}
pub type T4<T> = Tensor<(usize, usize, usize, usize), f32, Cpu, T>;
pub fn conv2d<T: Tape<f32, Cpu>>(
    x: T4<T>,
    _w: &Tensor<(usize, usize, usize, usize), f32, Cpu>,
    _b: &Tensor<(usize,), f32, Cpu>,
    _s: &Conv2dSpec,
) -> T4<T> {
    x
}
pub fn pool2d<T: Tape<f32, Cpu>>(x: T4<T>, _s: &Pool2dSpec) -> T4<T> {
    x
}
