//! A dense, row-major `f64` matrix: the input type of every model.

use std::ops::Range;

use crate::error::{Error, Result};

/// A dense row-major `f64` matrix (`data[i * cols + j]` is row `i`, column `j`).
///
/// **Invariant:** every value is finite. All constructors check it and return
/// [`Error::NonFiniteInput`] otherwise, so models never see NaN or ±∞ (the caller is expected
/// to drop incomplete rows before modelling). A matrix may have zero rows (predicting on it
/// returns an empty vector); fitting needs at least one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// Builds a matrix from row-major data (`data[i * cols + j]`).
    pub fn from_row_major(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        check_len(rows, cols, data.len())?;
        let m = Matrix { rows, cols, data };
        m.check_finite()?;
        Ok(m)
    }

    /// Builds a matrix from column-major data (`data[j * rows + i]`), the layout the feature
    /// engine produces.
    pub fn from_col_major(rows: usize, cols: usize, data: &[f64]) -> Result<Self> {
        check_len(rows, cols, data.len())?;
        let mut out = vec![0.0; rows * cols];
        for j in 0..cols {
            let col = &data[j * rows..(j + 1) * rows];
            for (i, &v) in col.iter().enumerate() {
                if !v.is_finite() {
                    return Err(Error::NonFiniteInput {
                        row: i,
                        col: j,
                        value: v,
                    });
                }
                out[i * cols + j] = v;
            }
        }
        Ok(Matrix {
            rows,
            cols,
            data: out,
        })
    }

    /// Selects rows (in the given order) out of column-major data with `n_rows` rows, without
    /// materializing the whole table. Row numbers in a [`Error::NonFiniteInput`] refer to the
    /// position in `rows`.
    pub fn from_col_major_rows(
        n_rows: usize,
        cols: usize,
        data: &[f64],
        rows: &[usize],
    ) -> Result<Self> {
        check_len(n_rows, cols, data.len())?;
        if let Some(&bad) = rows.iter().find(|&&r| r >= n_rows) {
            return Err(Error::RowOutOfRange {
                index: bad,
                rows: n_rows,
            });
        }
        let mut out = vec![0.0; rows.len() * cols];
        for j in 0..cols {
            let col = &data[j * n_rows..(j + 1) * n_rows];
            for (i, &r) in rows.iter().enumerate() {
                let v = col[r];
                if !v.is_finite() {
                    return Err(Error::NonFiniteInput {
                        row: i,
                        col: j,
                        value: v,
                    });
                }
                out[i * cols + j] = v;
            }
        }
        Ok(Matrix {
            rows: rows.len(),
            cols,
            data: out,
        })
    }

    /// Builds a matrix from equally long columns.
    pub fn from_columns(columns: &[&[f64]]) -> Result<Self> {
        let cols = columns.len();
        let rows = columns.first().map_or(0, |c| c.len());
        if let Some((j, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != rows) {
            return Err(Error::Shape(format!(
                "column {j} has {} values, column 0 has {rows}",
                c.len()
            )));
        }
        let mut out = vec![0.0; rows * cols];
        for (j, col) in columns.iter().enumerate() {
            for (i, &v) in col.iter().enumerate() {
                if !v.is_finite() {
                    return Err(Error::NonFiniteInput {
                        row: i,
                        col: j,
                        value: v,
                    });
                }
                out[i * cols + j] = v;
            }
        }
        Ok(Matrix {
            rows,
            cols,
            data: out,
        })
    }

    /// Number of rows (observations).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The row-major values.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Consumes the matrix and returns its row-major values.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// Row `i` (panics if out of range, like slice indexing).
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Value at row `i`, column `j` (panics if out of range).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(
            j < self.cols,
            "column {j} out of range ({} columns)",
            self.cols
        );
        self.data[i * self.cols + j]
    }

    /// Column `j` as a new vector (panics if out of range).
    pub fn column(&self, j: usize) -> Vec<f64> {
        assert!(
            j < self.cols,
            "column {j} out of range ({} columns)",
            self.cols
        );
        (0..self.rows)
            .map(|i| self.data[i * self.cols + j])
            .collect()
    }

    /// A new matrix made of the given rows, in the given order (repetitions allowed).
    pub fn select_rows(&self, indices: &[usize]) -> Result<Self> {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            if i >= self.rows {
                return Err(Error::RowOutOfRange {
                    index: i,
                    rows: self.rows,
                });
            }
            data.extend_from_slice(self.row(i));
        }
        Ok(Matrix {
            rows: indices.len(),
            cols: self.cols,
            data,
        })
    }

    /// A new matrix made of a contiguous range of rows.
    pub fn slice_rows(&self, range: Range<usize>) -> Result<Self> {
        self.select_row_ranges(std::slice::from_ref(&range))
    }

    /// A new matrix made of several row ranges, concatenated in order (e.g. the pieces of a
    /// purged training set).
    pub fn select_row_ranges(&self, ranges: &[Range<usize>]) -> Result<Self> {
        let mut data = Vec::new();
        let mut rows = 0;
        for r in ranges {
            if r.start > r.end || r.end > self.rows {
                return Err(Error::RowOutOfRange {
                    index: r.end.max(r.start),
                    rows: self.rows,
                });
            }
            data.extend_from_slice(&self.data[r.start * self.cols..r.end * self.cols]);
            rows += r.end - r.start;
        }
        Ok(Matrix {
            rows,
            cols: self.cols,
            data,
        })
    }

    /// Wraps data that is known to be finite (internal use: derived from a valid matrix).
    pub(crate) fn from_parts_unchecked(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        debug_assert_eq!(rows * cols, data.len());
        Matrix { rows, cols, data }
    }

    fn check_finite(&self) -> Result<()> {
        match self.data.iter().position(|v| !v.is_finite()) {
            Some(k) => Err(Error::NonFiniteInput {
                row: k / self.cols,
                col: k % self.cols,
                value: self.data[k],
            }),
            None => Ok(()),
        }
    }
}

fn check_len(rows: usize, cols: usize, len: usize) -> Result<()> {
    match rows.checked_mul(cols) {
        Some(n) if n == len => Ok(()),
        _ => Err(Error::Shape(format!(
            "{rows} rows × {cols} columns does not match {len} values"
        ))),
    }
}

/// Selects `y[i]` for each index (a helper to cut targets the same way as a [`Matrix`]).
pub fn select_values(y: &[f64], indices: &[usize]) -> Result<Vec<f64>> {
    indices
        .iter()
        .map(|&i| {
            y.get(i).copied().ok_or(Error::RowOutOfRange {
                index: i,
                rows: y.len(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn col_major_becomes_row_major() {
        // 3 rows × 2 cols, column-major: col0 = [1,2,3], col1 = [4,5,6]
        let m = Matrix::from_col_major(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(m.as_slice(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(m.row(1), &[2.0, 5.0]);
        assert_eq!(m.column(1), vec![4.0, 5.0, 6.0]);
        let sel =
            Matrix::from_col_major_rows(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 0]).unwrap();
        assert_eq!(sel.as_slice(), &[3.0, 6.0, 1.0, 4.0]);
        assert_eq!(sel, m.select_rows(&[2, 0]).unwrap());
        let cols = Matrix::from_columns(&[&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]]).unwrap();
        assert_eq!(cols, m);
    }

    #[test]
    fn row_selection() {
        let m = Matrix::from_row_major(4, 1, vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(m.slice_rows(1..3).unwrap().as_slice(), &[1.0, 2.0]);
        assert_eq!(
            m.select_row_ranges(&[0..1, 3..4]).unwrap().as_slice(),
            &[0.0, 3.0]
        );
        assert!(matches!(
            m.select_rows(&[4]),
            Err(Error::RowOutOfRange { index: 4, rows: 4 })
        ));
        assert!(m.slice_rows(2..5).is_err());
        assert_eq!(
            select_values(&[5.0, 6.0, 7.0], &[2, 0]).unwrap(),
            vec![7.0, 5.0]
        );
        assert!(select_values(&[5.0], &[1]).is_err());
    }

    #[test]
    fn nan_and_infinity_are_refused_with_their_position() {
        let e = Matrix::from_row_major(2, 2, vec![0.0, 1.0, f64::NAN, 3.0]).unwrap_err();
        assert!(
            matches!(e, Error::NonFiniteInput { row: 1, col: 0, .. }),
            "{e}"
        );
        let e = Matrix::from_col_major(2, 2, &[0.0, 1.0, 2.0, f64::INFINITY]).unwrap_err();
        assert!(
            matches!(e, Error::NonFiniteInput { row: 1, col: 1, .. }),
            "{e}"
        );
        // A NaN in a row that is not selected does not matter; one in a selected row does.
        let data = [0.0, f64::NAN, 2.0, 3.0];
        assert!(Matrix::from_col_major_rows(2, 2, &data, &[0]).is_ok());
        assert!(Matrix::from_col_major_rows(2, 2, &data, &[1]).is_err());
        assert!(Matrix::from_columns(&[&[1.0], &[f64::NEG_INFINITY]]).is_err());
    }

    #[test]
    fn length_mismatch_is_refused() {
        assert!(matches!(
            Matrix::from_row_major(2, 2, vec![0.0; 3]),
            Err(Error::Shape(_))
        ));
        assert!(Matrix::from_columns(&[&[1.0, 2.0], &[1.0]]).is_err());
    }
}
