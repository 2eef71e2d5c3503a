//! The host kernels of `nd.rs` on dfdx's tape. A value goes in as a line of its
//! elements (a reshape, which keeps its tensor's id, so its gradient lands where
//! dfdx expects it); the kernel runs on host data, and its backward, registered with
//! `Tape::add_backward_op`, adds into the inputs' gradients. The result comes back as
//! the value of its full shape.

use dfdx::prelude::*;

use super::Value;
use super::{moves, nd};
use crate::check::plan::{Reduce, TensorOp};
use crate::lower::act::Act;
use crate::lower::step::StepTape;

type Line<T> = Tensor<(usize,), f32, Cpu, T>;

/// A value as a line of its elements, and its shape as the engine holds it.
fn line<T: StepTape>(v: Value<T>) -> (Line<T>, Vec<usize>) {
    match v {
        Value::Act(Act::Flat(t)) => {
            let (b, n) = *t.shape();
            (t.reshape_like(&(b * n,)), vec![b, n])
        }
        Value::Act(Act::Image(t)) => {
            let (b, c, h, w) = *t.shape();
            (t.reshape_like(&(b * c * h * w,)), vec![b, c, h, w])
        }
        Value::Scalar(s) => (s.reshape_like(&(1,)), Vec::new()),
        Value::Const(_) => unreachable!("check folds constants"),
    }
}

/// A line as the value of a full shape (batch first, `[]` for a scalar): an element
/// of rank 0 or 1 is a flat row, of rank 2 an image of one channel.
fn unline<T: StepTape>(t: Line<T>, shape: &[usize]) -> Value<T> {
    match *shape {
        [] => Value::Scalar(t.reshape_like(&())),
        [b] => Value::Act(Act::Flat(t.reshape_like(&(b, 1)))),
        [b, n] => Value::Act(Act::Flat(t.reshape_like(&(b, n)))),
        [b, h, w] => Value::Act(Act::Image(t.reshape_like(&(b, 1, h, w)))),
        [b, c, h, w] => Value::Act(Act::Image(t.reshape_like(&(b, c, h, w)))),
        _ => unreachable!("check limits elements to rank 3, got {shape:?}"),
    }
}

/// The batch's rows in `t`, a line of elements of `shape`, with the batch axis first.
fn full<T: StepTape>(t: &Line<T>, shape: &[usize]) -> Vec<usize> {
    let rows = t.shape().0 / shape.iter().product::<usize>().max(1);
    std::iter::once(rows).chain(shape.iter().copied()).collect()
}

/// Runs `forward` on the inputs' data; with a tape, `backward` later maps
/// (inputs, output, the output's gradient) to the gradients to add to the inputs.
fn host_op<T: StepTape, const N: usize>(
    inputs: [Line<T>; N],
    forward: impl FnOnce(&[Vec<f32>; N]) -> Vec<f32>,
    backward: impl FnOnce(&[Vec<f32>; N], &[f32], &[f32]) -> [Vec<f32>; N] + 'static,
) -> Line<T> {
    let mut tape: Option<T> = None;
    let plain: [Line<NoneTape>; N] = inputs.map(|t| {
        let (t, own) = t.split_tape();
        tape = Some(match tape.take() {
            Some(all) => all.merge(own),
            None => own,
        });
        t
    });
    let mut tape = tape.unwrap_or_default();
    let data: [Vec<f32>; N] = std::array::from_fn(|i| plain[i].as_vec());
    let out = forward(&data);
    let dev = plain[0].device().clone();
    let result = dev.tensor_from_vec(out.clone(), (out.len(),));
    if T::OWNS_TAPE {
        let ghosts = plain.map(|t| t.ghost());
        let out_ghost = result.ghost();
        tape.add_backward_op(move |grads| {
            let grad: Vec<f32> = grads.get_or_alloc_mut(&out_ghost)?.to_vec();
            for (ghost, d) in ghosts.iter().zip(backward(&data, &out, &grad)) {
                let slot = grads.get_or_alloc_mut(ghost)?;
                slot.iter_mut().zip(&d).for_each(|(s, v)| *s += v);
            }
            Ok(())
        });
    }
    result.put_tape(tape)
}

/// `a op b` between batched tensors of element shapes `shapes` that broadcast.
pub fn broadcast<T: StepTape>(
    op: TensorOp,
    a: Value<T>,
    b: Value<T>,
    shapes: &[Vec<usize>; 2],
) -> Value<T> {
    let ((a, _), (b, _)) = (line(a), line(b));
    let (sa, sb) = (full(&a, &shapes[0]), full(&b, &shapes[1]));
    let out_shape = nd::broadcast_shape(&sa, &sb);
    let (fa, fb) = (sa.clone(), sb.clone());
    let out = host_op(
        [a, b],
        |[x, y]| nd::binary_forward(op, x, &fa, y, &fb),
        move |[x, y], _, g| {
            let (gx, gy) = nd::binary_backward(op, (x, &sa), (y, &sb), g);
            [gx, gy]
        },
    );
    unline(out, &out_shape)
}

/// A reduction over `axes` (batch = 0) of a tensor of element `shape`: a scalar when
/// the axes hold the batch (check makes them all the axes then).
pub fn reduce_axes<T: StepTape>(
    op: Reduce,
    v: Value<T>,
    shape: &[usize],
    axes: &[usize],
    keepdims: bool,
) -> Value<T> {
    let (t, _) = line(v);
    let fs = full(&t, shape);
    let out_shape: Vec<usize> = if axes.contains(&0) {
        Vec::new()
    } else if keepdims {
        nd::kept_shape(&fs, axes)
    } else {
        fs.iter()
            .enumerate()
            .filter(|(d, _)| !axes.contains(d))
            .map(|(_, &n)| n)
            .collect()
    };
    let (f, a) = (fs.clone(), axes.to_vec());
    let out = host_op(
        [t],
        |[x]| nd::reduce_forward(op, x, &fs, axes),
        move |[x], out, g| [nd::reduce_backward(op, x, &f, &a, out, g)],
    );
    unline(out, &out_shape)
}

/// Softmax or log-softmax along `axis` (batch = 0) of a tensor of element `shape`.
pub fn softmax<T: StepTape>(v: Value<T>, shape: &[usize], axis: usize, log: bool) -> Value<T> {
    let (t, _) = line(v);
    let fs = full(&t, shape);
    let f = fs.clone();
    let out = host_op(
        [t],
        |[x]| nd::softmax_forward(x, &fs, axis, log),
        move |_, out, g| [nd::softmax_backward(out, &f, axis, log, g)],
    );
    unline(out, &fs)
}

/// `clip_by_value`, on a value of any shape.
pub fn clip<T: StepTape>(v: Value<T>, lo: f32, hi: f32) -> Value<T> {
    let (t, held) = line(v);
    let out = host_op(
        [t],
        |[x]| nd::clip_forward(x, lo, hi),
        move |[x], _, g| [nd::clip_backward(x, lo, hi, g)],
    );
    unline(out, &held)
}

/// `reshape`: the same line of values, as elements of `shape`; dfdx's reshape keeps the
/// tensor's id, so the gradient comes back through it unchanged.
pub fn reshape<T: StepTape>(v: Value<T>, from: &[usize], shape: &[usize]) -> Value<T> {
    let (t, _) = line(v);
    let mut fs = full(&t, from);
    fs.truncate(1);
    fs.extend(shape);
    unline(t, &fs)
}

/// `transpose` of a tensor of element `shape` by `perm` (batch = 0, which stays first).
pub fn transpose<T: StepTape>(v: Value<T>, shape: &[usize], perm: &[usize]) -> Value<T> {
    let (t, _) = line(v);
    let fs = full(&t, shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| fs[p]).collect();
    let (forward, back) = (perm.to_vec(), moves::inverse(perm));
    let o = out_shape.clone();
    let out = host_op(
        [t],
        |[x]| moves::transpose(x, &fs, &forward),
        move |_, _, g| [moves::transpose(g, &o, &back)],
    );
    unline(out, &out_shape)
}

/// `matmul` of tensors of element shapes `shapes` (each a vector or a matrix), row by row.
pub fn matmul<T: StepTape>(a: Value<T>, b: Value<T>, shapes: &[Vec<usize>; 2]) -> Value<T> {
    let ((a, _), (b, _)) = (line(a), line(b));
    let rows = full(&a, &shapes[0])[0];
    let [sa, sb] = shapes.clone();
    let mut out_shape = vec![rows];
    if let [m, _] = sa[..] {
        out_shape.push(m);
    }
    if let [_, n] = sb[..] {
        out_shape.push(n);
    }
    let (fa, fb) = (sa.clone(), sb.clone());
    let out = host_op(
        [a, b],
        |[x, y]| moves::matmul(x, &fa, y, &fb, rows),
        move |[x, y], _, g| {
            let (gx, gy) = moves::matmul_backward((x, &sa), (y, &sb), g, rows);
            [gx, gy]
        },
    );
    unline(out, &out_shape)
}

/// Positions `start..end` of `axis` (batch = 0) of a tensor of element `shape`; with
/// `drop`, the axis (of one position) goes.
pub fn slice<T: StepTape>(
    v: Value<T>,
    shape: &[usize],
    axis: usize,
    (start, end): (usize, usize),
    drop: bool,
) -> Value<T> {
    let (t, _) = line(v);
    let fs = full(&t, shape);
    let mut out_shape = fs.clone();
    if drop {
        out_shape.remove(axis);
    } else {
        out_shape[axis] = end - start;
    }
    let f = fs.clone();
    let out = host_op(
        [t],
        |[x]| moves::slice(x, &fs, axis, start, end),
        move |_, _, g| [moves::slice_backward(g, &f, axis, start, end)],
    );
    unline(out, &out_shape)
}
