//! Batch computation: the incremental kernels run over a history, one pair per rayon task.

use bqx_domain::{BarColumns, Pair};
use rayon::prelude::*;

use crate::{BarInput, FeatureError, Kernel};

/// The features of one series, column-major `f64`.
///
/// Column-major because every consumer works per column (the columnar store, scalers, feature
/// selection, drift statistics). `f64` because the kernels compute in `f64` and the batch values
/// must equal the online ones bit for bit; narrowing to `f32` for storage is the store's choice.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    pub names: Vec<String>,
    pub n_rows: usize,
    /// `data[j * n_rows + i]` is feature `j` at row `i`.
    pub data: Vec<f64>,
}

impl FeatureMatrix {
    pub fn n_cols(&self) -> usize {
        self.names.len()
    }

    pub fn column(&self, j: usize) -> &[f64] {
        &self.data[j * self.n_rows..(j + 1) * self.n_rows]
    }

    pub fn column_by_name(&self, name: &str) -> Option<&[f64]> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|j| self.column(j))
    }

    pub fn get(&self, row: usize, col: usize) -> f64 {
        self.data[col * self.n_rows + row]
    }

    /// A new matrix with the rows at `idx`, in that order (e.g. the panel-grid rows at which a
    /// pair has a bar, to store panel features next to the pair's own).
    pub fn take_rows(&self, idx: &[usize]) -> FeatureMatrix {
        let mut data = Vec::with_capacity(idx.len() * self.n_cols());
        for j in 0..self.n_cols() {
            let col = self.column(j);
            data.extend(idx.iter().map(|&i| col[i]));
        }
        FeatureMatrix {
            names: self.names.clone(),
            n_rows: idx.len(),
            data,
        }
    }
}

/// Runs `kernel` over the rows of `bars` in order, calling `sink(row, values)` after each
/// `update`. This is the one loop behind every batch path.
pub fn run_rows<K: Kernel + ?Sized>(
    kernel: &mut K,
    bars: &BarColumns,
    mut sink: impl FnMut(usize, &[f64]),
) -> Result<(), FeatureError> {
    let n = bars.len();
    if [
        bars.open.len(),
        bars.high.len(),
        bars.low.len(),
        bars.close.len(),
    ]
    .iter()
    .any(|&l| l != n)
        || [&bars.volume, &bars.spread]
            .into_iter()
            .flatten()
            .any(|c| c.len() != n)
    {
        return Err(FeatureError::RaggedColumns);
    }
    for (column, values) in [("volume", &bars.volume), ("spread", &bars.spread)] {
        if let Some(row) = values
            .iter()
            .flatten()
            .position(|v| !(v.is_nan() || (v.is_finite() && *v >= 0.0)))
        {
            return Err(FeatureError::BadMicrostructure {
                row,
                column,
                value: values.as_ref().expect("present")[row],
            });
        }
    }
    if let Some(row) = bars.close.iter().position(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(FeatureError::BadClose {
            row,
            close: bars.close[row],
        });
    }
    let mut row = vec![f64::NAN; kernel.width()];
    for i in 0..n {
        kernel.update(&BarInput::from_columns(bars, i), &mut row);
        sink(i, &row);
    }
    Ok(())
}

/// Rows buffered row-major before being transposed into the column-major matrix, so that the
/// writes are contiguous runs instead of one strided store per value.
const BLOCK_ROWS: usize = 128;

/// Computes the features of a whole history with a fresh (reset) kernel.
pub fn compute_batch<K: Kernel + ?Sized>(
    kernel: &mut K,
    bars: &BarColumns,
) -> Result<FeatureMatrix, FeatureError> {
    kernel.reset();
    let n = bars.len();
    let width = kernel.width();
    // Zeroed (lazily mapped) memory: every cell is overwritten below.
    let mut data = vec![0.0; n * width];
    let mut block = vec![f64::NAN; BLOCK_ROWS * width];
    let flush = |data: &mut [f64], block: &[f64], first: usize, rows: usize| {
        for j in 0..width {
            let col = &mut data[j * n + first..j * n + first + rows];
            for (r, v) in col.iter_mut().enumerate() {
                *v = block[r * width + j];
            }
        }
    };
    run_rows(kernel, bars, |i, row| {
        let r = i % BLOCK_ROWS;
        block[r * width..(r + 1) * width].copy_from_slice(row);
        if r == BLOCK_ROWS - 1 {
            flush(&mut data, &block, i + 1 - BLOCK_ROWS, BLOCK_ROWS);
        }
    })?;
    let rest = n % BLOCK_ROWS;
    if rest > 0 {
        flush(&mut data, &block, n - rest, rest);
    }
    Ok(FeatureMatrix {
        names: kernel.names(),
        n_rows: n,
        data,
    })
}

/// Computes the same values as [`compute_batch`] but hands them over `chunk` rows at a time,
/// column-major (`sink(first_row, columns)` with `columns[j]` holding rows
/// `first_row..first_row + columns[j].len()` of feature `j`), through one reused buffer: memory
/// stays `chunk × width` values however long the history (the base stage streams each chunk
/// into its feature file). The first error of `sink` stops the computation and is returned.
pub fn compute_chunks<K, E>(
    kernel: &mut K,
    bars: &BarColumns,
    chunk: usize,
    mut sink: impl FnMut(usize, &[&[f64]]) -> Result<(), E>,
) -> Result<(), E>
where
    K: Kernel + ?Sized,
    E: From<FeatureError>,
{
    kernel.reset();
    let n = bars.len();
    let width = kernel.width();
    let chunk = chunk.max(BLOCK_ROWS).next_multiple_of(BLOCK_ROWS);
    let mut cols: Vec<Vec<f64>> = (0..width).map(|_| vec![f64::NAN; chunk]).collect();
    let mut block = vec![f64::NAN; BLOCK_ROWS * width];
    let mut failed: Option<E> = None;
    let flush_block = |cols: &mut [Vec<f64>], block: &[f64], at: usize, rows: usize| {
        for (j, col) in cols.iter_mut().enumerate() {
            for (r, v) in col[at..at + rows].iter_mut().enumerate() {
                *v = block[r * width + j];
            }
        }
    };
    let mut emit = |cols: &[Vec<f64>], first: usize, rows: usize, failed: &mut Option<E>| {
        if failed.is_none() {
            let views: Vec<&[f64]> = cols.iter().map(|c| &c[..rows]).collect();
            if let Err(e) = sink(first, &views) {
                *failed = Some(e);
            }
        }
    };
    run_rows(kernel, bars, |i, row| {
        if failed.is_some() {
            return;
        }
        let r = i % BLOCK_ROWS;
        block[r * width..(r + 1) * width].copy_from_slice(row);
        if r == BLOCK_ROWS - 1 {
            let first_of_block = i + 1 - BLOCK_ROWS;
            flush_block(&mut cols, &block, first_of_block % chunk, BLOCK_ROWS);
            if (i + 1) % chunk == 0 {
                emit(&cols, i + 1 - chunk, chunk, &mut failed);
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let rest_block = n % BLOCK_ROWS;
    if rest_block > 0 {
        flush_block(&mut cols, &block, (n - rest_block) % chunk, rest_block);
    }
    let rest = n % chunk;
    if rest > 0 {
        let mut failed = None;
        emit(&cols, n - rest, rest, &mut failed);
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
}

/// Computes the features of several pairs in parallel (one fresh kernel per pair from `make`).
pub fn compute_batch_pairs<K, F>(
    make: F,
    series: &[(Pair, &BarColumns)],
) -> Vec<(Pair, Result<FeatureMatrix, FeatureError>)>
where
    K: Kernel,
    F: Fn() -> K + Sync,
{
    series
        .par_iter()
        .map(|&(pair, bars)| {
            let mut k = make();
            (pair, compute_batch(&mut k, bars))
        })
        .collect()
}
