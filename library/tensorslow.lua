---@meta tensorslow
-- LuaLS annotations for tensorslow: point "Lua.workspace.library" at this folder so that
-- editors complete and check tensorslow code. Axes and indices are 1-based.
-- Stubs only (never run): their parameters and class tables are unused on purpose.
-- luacheck: no unused

---@alias ts.dtype "float32"|"float64"|"int64"|"uint8"
---@alias ts.value ts.Tensor|number|table
---@alias ts.input ts.Node|ts.Tensor|number|table
---@alias ts.axis integer|integer[]|nil
---@alias ts.name_opts {name?: string}
---@alias ts.reduce_opts {axis?: ts.axis, keepdims?: boolean, name?: string}
-- A function of a shape that returns a tensor of that shape (see ts.initializers).
---@alias ts.initializer fun(shape: integer[], opts?: {dtype?: ts.dtype}): ts.Tensor
-- A {gradient, variable} pair of an optimizer (gradient nil: the loss does not depend on it).
---@alias ts.grad_and_var {[1]: ts.Node|nil, [2]: ts.Node}

-- Tensors: values computed at once. Their op methods compute eagerly; give a node as an
-- operand through ts.NAME (or the node's method) to build a graph node instead.
---@class ts.Tensor
---@field shape integer[] a fresh table of the sizes
---@field dtype ts.dtype
---@operator add(ts.Node): ts.Node
---@operator add(ts.value): ts.Tensor
---@operator sub(ts.Node): ts.Node
---@operator sub(ts.value): ts.Tensor
---@operator mul(ts.Node): ts.Node
---@operator mul(ts.value): ts.Tensor
---@operator div(ts.Node): ts.Node
---@operator div(ts.value): ts.Tensor
---@operator pow(ts.Node): ts.Node
---@operator pow(ts.value): ts.Tensor
---@operator unm: ts.Tensor
---@operator len: integer
local Tensor = {}
--- The rank (number of axes).
---@return integer
function Tensor:dim() end
--- The number of elements.
---@return integer
function Tensor:numel() end
--- The values as nested tables (a number for a scalar).
---@return table|number
function Tensor:totable() end
--- The value of a one-element tensor.
---@return number
function Tensor:item() end
--- The element at 1-based indices (negative from the end).
---@param ... integer 1-based indices
---@return number
function Tensor:get(...) end
--- Stores the value at the indices; returns the tensor.
---@param ... integer|number indices, then the value
---@return ts.Tensor
function Tensor:set(...) end
--- A view with a new shape sharing the data: t:reshape{2, 3} or t:reshape(2, 3).
---@param shape integer[]|integer one entry may be -1
---@param ... integer further sizes when shape is a number
---@return ts.Tensor
function Tensor:reshape(shape, ...) end
--- A copy with its own data.
---@return ts.Tensor
function Tensor:copy() end
--- A copy converted to dtype (floats to integers truncate toward zero).
---@param dtype ts.dtype
---@return ts.Tensor
function Tensor:cast(dtype) end

-- <generated: Tensor op methods from the ts.NAME stubs (lua5.4 tools/annotations.lua)>
-- element-wise math
--- -x, element-wise (float32, float64, int64); also unary `-`.
---@return ts.Tensor
function Tensor:negative() end
--- |x|, element-wise (float32, float64, int64).
---@return ts.Tensor
function Tensor:abs() end
--- -1, 0 or 1 by the sign of x; keeps 0 and NaN (float32, float64, int64).
---@return ts.Tensor
function Tensor:sign() end
--- x^2, element-wise (float32, float64, int64).
---@return ts.Tensor
function Tensor:square() end
--- e^x, element-wise (float).
---@return ts.Tensor
function Tensor:exp() end
--- Natural logarithm, element-wise (float).
---@return ts.Tensor
function Tensor:log() end
--- log(1 + x), element-wise (float).
---@return ts.Tensor
function Tensor:log1p() end
--- Square root, element-wise (float).
---@return ts.Tensor
function Tensor:sqrt() end
--- 1 / sqrt(x), element-wise (float).
---@return ts.Tensor
function Tensor:rsqrt() end
--- 1 / x, element-wise (float).
---@return ts.Tensor
function Tensor:reciprocal() end
--- Sine, element-wise (float).
---@return ts.Tensor
function Tensor:sin() end
--- Cosine, element-wise (float).
---@return ts.Tensor
function Tensor:cos() end
--- Hyperbolic tangent, element-wise (float).
---@return ts.Tensor
function Tensor:tanh() end
--- 1 / (1 + e^-x), element-wise and stable: sigmoid(-1000) = 0 (float).
---@return ts.Tensor
function Tensor:sigmoid() end
--- max(x, 0), element-wise; NaN passes through (float).
---@return ts.Tensor
function Tensor:relu() end
--- log(1 + e^x), element-wise and stable: softplus(1000) = 1000 (float).
---@return ts.Tensor
function Tensor:softplus() end
--- x Phi(x), the exact erf form, element-wise (float).
---@return ts.Tensor
function Tensor:gelu() end
--- x / (1 + |x|), element-wise (float).
---@return ts.Tensor
function Tensor:softsign() end
--- x where x >= 0, else alpha x (alpha 0.2 by default; float).
---@param alpha? number|{alpha?: number, name?: string}
---@return ts.Tensor
function Tensor:leaky_relu(alpha) end
--- x where x >= 0, else alpha (e^x - 1) (alpha 1 by default; float).
---@param alpha? number|{alpha?: number, name?: string}
---@return ts.Tensor
function Tensor:elu(alpha) end

-- binary ops (NumPy broadcasting)
--- a + b (float32, float64, int64); also `+`.
---@param b ts.value
---@return ts.Tensor
function Tensor:add(b) end
--- a - b (float32, float64, int64); also `-`.
---@param b ts.value
---@return ts.Tensor
function Tensor:subtract(b) end
--- a * b (float32, float64, int64); also `*`.
---@param b ts.value
---@return ts.Tensor
function Tensor:multiply(b) end
--- a / b (float); also `/`.
---@param b ts.value
---@return ts.Tensor
function Tensor:divide(b) end
--- a ^ b (float); also `^`.
---@param b ts.value
---@return ts.Tensor
function Tensor:pow(b) end
--- Element-wise maximum; NaN propagates (all dtypes).
---@param b ts.value
---@return ts.Tensor
function Tensor:maximum(b) end
--- Element-wise minimum; NaN propagates (all dtypes).
---@param b ts.value
---@return ts.Tensor
function Tensor:minimum(b) end
--- (a - b)^2 (float32, float64, int64).
---@param b ts.value
---@return ts.Tensor
function Tensor:squared_difference(b) end
--- a == b as uint8 0/1 (all dtypes).
---@param b ts.value
---@return ts.Tensor
function Tensor:equal(b) end
--- a ~= b as uint8 0/1 (all dtypes).
---@param b ts.value
---@return ts.Tensor
function Tensor:not_equal(b) end
--- a < b as uint8 0/1 (all dtypes).
---@param b ts.value
---@return ts.Tensor
function Tensor:less(b) end
--- a <= b as uint8 0/1 (all dtypes).
---@param b ts.value
---@return ts.Tensor
function Tensor:less_equal(b) end
--- a > b as uint8 0/1 (all dtypes).
---@param b ts.value
---@return ts.Tensor
function Tensor:greater(b) end
--- a >= b as uint8 0/1 (all dtypes).
---@param b ts.value
---@return ts.Tensor
function Tensor:greater_equal(b) end
--- a where cond is non-zero, else b; cond (uint8), a and b broadcast together; result has a's dtype.
--- With cond alone: the 1-based positions of its non-zero entries, int64 of shape [count, rank].
---@param a? ts.value
---@param b? ts.value
---@return ts.Tensor
function Tensor:where(a, b) end

-- reductions: axis nil = every axis, an integer or a list (1-based, negative from the end)
--- Sum over the axes; empty gives 0 (float32, float64, int64).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:reduce_sum(axis, keepdims) end
--- Alias of reduce_sum (methods only).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:sum(axis, keepdims) end
--- Mean over the axes; empty gives NaN (float).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:reduce_mean(axis, keepdims) end
--- Alias of reduce_mean (methods only).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:mean(axis, keepdims) end
--- Maximum over the axes; NaN propagates, an empty axis is an error (all dtypes).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:reduce_max(axis, keepdims) end
--- Alias of reduce_max (methods only).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:max(axis, keepdims) end
--- Minimum over the axes; NaN propagates, an empty axis is an error (all dtypes).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:reduce_min(axis, keepdims) end
--- Alias of reduce_min (methods only).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:min(axis, keepdims) end
--- Product over the axes; empty gives 1 (float32, float64, int64).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:reduce_prod(axis, keepdims) end
--- log(sum(exp(x))) over the axes, stable; empty gives -inf (float).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:reduce_logsumexp(axis, keepdims) end
--- 1-based int64 index of the maximum along one axis (default the first); first on ties.
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:argmax(axis, keepdims) end
--- 1-based int64 index of the minimum along one axis (default the first); first on ties.
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Tensor
function Tensor:argmin(axis, keepdims) end

-- linear algebra and shapes (axes, perm, begin and indices 1-based)
--- Matrix product through BLAS: rank 1, 2 or 3 (batched) operands (float).
---@param b ts.value
---@param opts? {transpose_a?: boolean, transpose_b?: boolean, name?: string}
---@return ts.Tensor
function Tensor:matmul(b, opts) end
--- Permutes the axes: result axis i is x's axis perm[i]; default reverses them.
---@param perm? integer[]
---@return ts.Tensor
function Tensor:transpose(perm) end
--- Removes the given size-1 axes, or every size-1 axis.
---@param axis? integer|integer[]
---@return ts.Tensor
function Tensor:squeeze(axis) end
--- Inserts a size-1 axis that becomes axis `axis` of the result (1 .. rank+1; -1 appends).
---@param axis integer
---@return ts.Tensor
function Tensor:expand_dims(axis) end
--- Joins the inputs along an existing axis (default 1); up to 64 inputs.
---@param others ts.value|ts.value[] the inputs after this one
---@param axis? integer
---@return ts.Tensor
function Tensor:concat(others, axis) end
--- Joins same-shaped inputs along a new axis at position `axis` (default 1).
---@param others ts.value|ts.value[] the inputs after this one
---@param axis? integer
---@return ts.Tensor
function Tensor:stack(others, axis) end
--- Pieces of x along `axis` (default 1): n equal ones or the given sizes (one may be -1).
---@param n_or_sizes integer|integer[]
---@param axis? integer
---@return ts.Tensor[]
function Tensor:split(n_or_sizes, axis) end
--- The box starting at `begin` (negative from the end) of extent `size` (-1 or nil: to the end).
---@param begin integer[]|integer
---@param size? integer[]|integer
---@return ts.Tensor
function Tensor:slice(begin, size) end
--- Slices of x along `axis` (default 1) at 1-based int64/uint8 `indices`.
---@param indices ts.value
---@param axis? integer
---@return ts.Tensor
function Tensor:gather(indices, axis) end
--- Repeats x multiples[i] times along axis i.
---@param multiples integer[]|integer
---@return ts.Tensor
function Tensor:tile(multiples) end
--- Surrounds x with constant_value (default 0): paddings is {{before, after}, ...}.
---@param paddings integer[][]
---@param constant_value? number
---@return ts.Tensor
function Tensor:pad(paddings, constant_value) end
--- Rows with a 1 at the 1-based index (index 0 or beyond depth: zeros); dtype float64 by default.
---@param depth integer
---@param opts? {dtype?: ts.dtype, name?: string}
---@return ts.Tensor
function Tensor:one_hot(depth, opts) end
--- A copy of x.
---@return ts.Tensor
function Tensor:identity() end
--- A copy of x through which no gradient flows.
---@return ts.Tensor
function Tensor:stop_gradient() end
--- Zeros of x's shape and dtype.
---@return ts.Tensor
function Tensor:zeros_like() end
--- Ones of x's shape and dtype.
---@return ts.Tensor
function Tensor:ones_like() end

-- index ops (lua/tensorslow/index.lua): indices 1-based, negative from the end
--- Slices of x at the index rows along indices' last axis (TF1's gather_nd); batch_dims
--- leading axes are shared by x and indices.
---@param indices ts.value
---@param opts? {batch_dims?: integer, name?: string}
---@return ts.Tensor
function Tensor:gather_nd(indices, opts) end
--- tensor with the slices at indices (rows along indices' last axis) replaced by updates
--- (a repeated index: the last update wins).
---@param indices ts.value
---@param updates ts.value
---@return ts.Tensor
function Tensor:tensor_scatter_nd_update(indices, updates) end
--- tensor with updates added at indices (repeated indices add up).
---@param indices ts.value
---@param updates ts.value
---@return ts.Tensor
function Tensor:tensor_scatter_nd_add(indices, updates) end
--- tensor with updates subtracted at indices.
---@param indices ts.value
---@param updates ts.value
---@return ts.Tensor
function Tensor:tensor_scatter_nd_sub(indices, updates) end
--- tensor with the larger of it and updates at indices.
---@param indices ts.value
---@param updates ts.value
---@return ts.Tensor
function Tensor:tensor_scatter_nd_max(indices, updates) end
--- tensor with the smaller of it and updates at indices.
---@param indices ts.value
---@param updates ts.value
---@return ts.Tensor
function Tensor:tensor_scatter_nd_min(indices, updates) end
--- out[i][j] = x[indices[i][j]][j] for axis 1 (torch.gather): indices has x's rank.
---@param indices ts.value
---@param axis? integer
---@return ts.Tensor
function Tensor:gather_elements(indices, axis) end
--- data with updates[i][j] put at [indices[i][j]][j] for axis 1; reduction "none" (the
--- last of repeated indices wins), "add", "mul", "max" or "min".
---@param indices ts.value
---@param updates ts.value
---@param axis? integer|{reduction?: string, name?: string}
---@param opts? {reduction?: string, name?: string}
---@return ts.Tensor
function Tensor:scatter_elements(indices, updates, axis, opts) end
--- The k largest (largest = false: smallest) entries along axis (default -1), sorted, and
--- their 1-based int64 positions; equal values in index order, NaN counted largest.
---@param k integer
---@param opts? {axis?: integer, largest?: boolean, sorted?: boolean, name?: string}
---@return ts.Tensor
---@return ts.Tensor
function Tensor:top_k(k, opts) end
--- The 1-based positions (int64) that sort x along axis (default -1), stable (equal values in
--- index order), NaN largest; direction "ASCENDING" (default) or "DESCENDING".
---@param axis? integer|{direction?: string, name?: string}
---@param opts? {direction?: string, name?: string}
---@return ts.Tensor
function Tensor:argsort(axis, opts) end
--- x sorted along axis (default -1); direction "ASCENDING" (default) or "DESCENDING".
---@param axis? integer|{direction?: string, name?: string}
---@param opts? {direction?: string, name?: string}
---@return ts.Tensor
function Tensor:sort(axis, opts) end
--- Running sums along axis (default 1); exclusive leaves the entry itself out, reverse sums
--- from the end.
---@param axis? integer|{exclusive?: boolean, reverse?: boolean, name?: string}
---@param opts? {exclusive?: boolean, reverse?: boolean, name?: string}
---@return ts.Tensor
function Tensor:cumsum(axis, opts) end
--- x's innermost matrices with entries more than num_lower below or num_upper above the
--- diagonal zeroed (a negative count keeps that whole triangle).
---@param num_lower integer
---@param num_upper integer
---@return ts.Tensor
function Tensor:matrix_band_part(num_lower, num_upper) end
--- x repeated along its size-1 or missing leading axes to shape (NumPy broadcasting).
---@param shape integer[]
---@return ts.Tensor
function Tensor:broadcast_to(shape) end
--- x with the order along the given axis (or axes) reversed.
---@param axis integer|integer[]
---@return ts.Tensor
function Tensor:reverse(axis) end
--- For each entry b along batch_axis (default 1), the first seq_lengths[b] entries along
--- seq_axis reversed.
---@param seq_lengths ts.value
---@param seq_axis integer
---@param batch_axis? integer
---@return ts.Tensor
function Tensor:reverse_sequence(seq_lengths, seq_axis, batch_axis) end
--- The entries of tensor where mask (of the shape of tensor's axes axis .. axis + rank(mask) - 1,
--- default axis 1) is non-zero, those axes flattened into one (TF1's boolean_mask).
---@param mask ts.value
---@param axis? integer
---@return ts.Tensor
function Tensor:boolean_mask(mask, axis) end
--- The distinct entries of x (flattened), or with axis its distinct slices along axis, in
--- order of first occurrence (TF1's unique) or sorted (slices lexicographically). Returns y,
--- idx (each entry's or slice's 1-based place in y), count and first (the 1-based position of
--- each first occurrence in x); the last three int64.
---@param opts? {axis?: integer, sorted?: boolean, name?: string}
---@return ts.Tensor
---@return ts.Tensor
---@return ts.Tensor
---@return ts.Tensor
function Tensor:unique(opts) end

-- neural-network ops (float; also in ts.nn)
--- exp(x - max) / sum along `axis` (default -1), stable.
---@param axis? integer|{axis?: integer, name?: string}
---@return ts.Tensor
function Tensor:softmax(axis) end
--- x - max - log(sum(exp(x - max))) along `axis` (default -1), stable.
---@param axis? integer|{axis?: integer, name?: string}
---@return ts.Tensor
function Tensor:log_softmax(axis) end
--- Scalar mean of (predictions - labels)^2 (0 for empty inputs).
---@param predictions ts.value
---@return ts.Tensor
function Tensor:mean_squared_error(predictions) end
--- Scalar sum(x^2) / 2.
---@return ts.Tensor
function Tensor:l2_loss() end
--- Adds the 1-D bias along x's last axis.
---@param bias ts.value
---@return ts.Tensor
function Tensor:bias_add(bias) end
--- Inverted dropout: keeps each value with probability 1 - rate, scaled by 1/(1 - rate), when training.
---@param rate number in [0, 1)
---@param opts? {training?: boolean|ts.Node|ts.Tensor, seed?: integer, name?: string}
---@return ts.Tensor
function Tensor:dropout(rate, opts) end

-- normalization (float; also in ts.nn)
--- TensorFlow 1.x's fused batch normalization: y, batch_mean, batch_variance. Training (the
--- default): the batch's statistics over every axis but the channels (data_format "NHWC", the
--- default, or "NCHW"; also NC, NWC, NCW, NDHWC, NCDHW: channels last or second, rank >= 2);
--- y uses the biased variance, batch_variance is the unbiased one (n / (n - 1)), as TF returns
--- it; with exponential_avg_factor f ~= 1 both returned statistics are (1 - f) * given + f *
--- batch. Inference (is_training = false): y from the given mean and variance, which are
--- returned. epsilon (default 0.001) below 1.001e-5 is raised to it, as TF does.
---@param scale ts.value
---@param offset ts.value
---@param opts? ts.fused_batch_norm_opts
---@return ts.Tensor
---@return ts.Tensor
---@return ts.Tensor
function Tensor:fused_batch_norm(scale, offset, opts) end
--- (x - mean) / sqrt(variance + epsilon) * gamma + beta over the axes begin_norm_axis..rank
--- (default -1: the last; tf.contrib.layers.layer_norm's 1 is 2 here); gamma and beta (each
--- optional) of x.shape[begin_params_axis:] (default -1); epsilon 1e-12 (tf.contrib's).
---@param opts? ts.layer_normalization_opts
---@return ts.Tensor
function Tensor:layer_normalization(opts) end
--- x / sqrt(max(sum(x^2), epsilon)) over axis (1-based, a list, or nil: every axis); epsilon
--- 1e-12 by default. l2_normalize(x, {axis=, epsilon=, name=}) also works.
---@param axis? integer|integer[]|{axis?: integer|integer[], epsilon?: number, name?: string}
---@param opts? {epsilon?: number, name?: string}
---@return ts.Tensor
function Tensor:l2_normalize(axis, opts) end

-- The ops added for ONNX import (issue 15; lua/tensorslow/math2.lua).
--- The error function, element-wise (float).
---@return ts.Tensor
function Tensor:erf() end
--- Rounds down, element-wise (float; no gradient).
---@return ts.Tensor
function Tensor:floor() end
--- Rounds up, element-wise (float; no gradient).
---@return ts.Tensor
function Tensor:ceil() end
--- Rounds to the nearest integer, halves to even (float; no gradient).
---@return ts.Tensor
function Tensor:round() end
--- Inverse cosine, element-wise (float).
---@return ts.Tensor
function Tensor:acos() end
--- Inverse sine, element-wise (float).
---@return ts.Tensor
function Tensor:asin() end
--- Inverse tangent, element-wise (float).
---@return ts.Tensor
function Tensor:atan() end
--- Hyperbolic cosine, element-wise (float).
---@return ts.Tensor
function Tensor:cosh() end
--- Hyperbolic sine, element-wise (float).
---@return ts.Tensor
function Tensor:sinh() end
--- Tangent, element-wise (float).
---@return ts.Tensor
function Tensor:tan() end
--- Inverse hyperbolic cosine, element-wise (float).
---@return ts.Tensor
function Tensor:acosh() end
--- Inverse hyperbolic sine, element-wise (float).
---@return ts.Tensor
function Tensor:asinh() end
--- Inverse hyperbolic tangent, element-wise (float).
---@return ts.Tensor
function Tensor:atanh() end
--- gamma * (x > 0 ? x : alpha * (exp(x) - 1)) (float; the self-normalising alpha and gamma by default).
---@param opts? {alpha?: number, gamma?: number, name?: string}
---@return ts.Tensor
function Tensor:selu(opts) end
--- max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (float; alpha 1, not 0).
---@param opts? {alpha?: number, name?: string}
---@return ts.Tensor
function Tensor:celu(opts) end
--- max(0, min(1, alpha * x + beta)) (float; alpha 0.2, beta 0.5).
---@param opts? {alpha?: number, beta?: number, name?: string}
---@return ts.Tensor
function Tensor:hard_sigmoid(opts) end
--- x * max(0, min(6, x + 3)) / 6 (float).
---@return ts.Tensor
function Tensor:hard_swish() end
--- x + bias where x < -lambd, x - bias where x > lambd, else 0 (float; lambd 0.5, bias 0).
---@param opts? {lambd?: number, bias?: number, name?: string}
---@return ts.Tensor
function Tensor:shrink(opts) end
--- x where x > alpha, else 0 (float; alpha 1).
---@param opts? {alpha?: number, name?: string}
---@return ts.Tensor
function Tensor:thresholded_relu(opts) end
--- 1 where x is NaN, else 0 (float in, uint8 out).
---@return ts.Tensor
function Tensor:is_nan() end
--- 1 where x is +-inf, else 0 (float in, uint8 out).
---@return ts.Tensor
function Tensor:is_inf() end
--- 1 where x is 0, else 0 (uint8).
---@return ts.Tensor
function Tensor:logical_not() end
--- ~x, element-wise (int64, uint8).
---@return ts.Tensor
function Tensor:bitwise_invert() end
--- a - floor(a / b) * b: the remainder with b's sign (all dtypes; integer b = 0 gives 0).
---@param b ts.value
---@return ts.Tensor
function Tensor:floormod(b) end
--- The remainder with a's sign, C's fmod (all dtypes; integer b = 0 gives 0; no gradient).
---@param b ts.value
---@return ts.Tensor
function Tensor:truncatemod(b) end
--- a and b as uint8 0/1 (uint8: non-zero is true).
---@param b ts.value
---@return ts.Tensor
function Tensor:logical_and(b) end
--- a or b as uint8 0/1 (uint8: non-zero is true).
---@param b ts.value
---@return ts.Tensor
function Tensor:logical_or(b) end
--- a xor b as uint8 0/1 (uint8: non-zero is true).
---@param b ts.value
---@return ts.Tensor
function Tensor:logical_xor(b) end
--- a & b (int64, uint8).
---@param b ts.value
---@return ts.Tensor
function Tensor:bitwise_and(b) end
--- a | b (int64, uint8).
---@param b ts.value
---@return ts.Tensor
function Tensor:bitwise_or(b) end
--- a ~ b (int64, uint8).
---@param b ts.value
---@return ts.Tensor
function Tensor:bitwise_xor(b) end
--- a << b (int64, uint8; b outside [0, bits) gives 0).
---@param b ts.value
---@return ts.Tensor
function Tensor:left_shift(b) end
--- a >> b, arithmetic for int64 (int64, uint8; b outside [0, bits) shifts every bit out).
---@param b ts.value
---@return ts.Tensor
function Tensor:right_shift(b) end
--- a where a >= 0, else b * a (float; the slope b broadcast against a).
---@param b ts.value
---@return ts.Tensor
function Tensor:prelu(b) end
--- 1 at the first maximum along axis (default -1), 0 elsewhere, in x's dtype (no gradient).
---@param opts? {axis?: integer, name?: string}
---@return ts.Tensor
function Tensor:hardmax(opts) end
--- Moves channels into block_size x block_size spatial blocks (rank 4; data_format "NHWC" (default)
--- or "NCHW"; mode "DCR" (default, TF1's order) or "CRD").
---@param block_size integer
---@param opts? {data_format?: "NHWC"|"NCHW", mode?: "DCR"|"CRD", name?: string}
---@return ts.Tensor
function Tensor:depth_to_space(block_size, opts) end
--- The inverse of depth_to_space: block_size x block_size spatial blocks into channels.
---@param block_size integer
---@param opts? {data_format?: "NHWC"|"NCHW", mode?: "DCR"|"CRD", name?: string}
---@return ts.Tensor
function Tensor:space_to_depth(block_size, opts) end
--- x / (bias + alpha * sum of x^2 over the channels within depth_radius)^beta along the last axis
--- (depth_radius 5, bias 1, alpha 1, beta 0.5).
---@param opts? {depth_radius?: integer, bias?: number, alpha?: number, beta?: number, name?: string}
---@return ts.Tensor
function Tensor:local_response_normalization(opts) end
--- Each sample's channels normalized over their spatial axes (epsilon 1e-5), then scale * y + offset
--- per channel (either may be nil); data_format "NHWC" (default) or "NCHW".
---@param scale? ts.value
---@param offset? ts.value
---@param opts? {epsilon?: number, data_format?: "NHWC"|"NCHW", name?: string}
---@return ts.Tensor
function Tensor:instance_normalization(scale, offset, opts) end
-- </generated>

-- Graph nodes: operators and op methods build new nodes in the node's graph.
---@class ts.Node
---@field name string unique in its graph
---@field op string
---@field inputs ts.Node[]
---@field consumers ts.Node[]
---@field graph ts.Graph
---@field shape integer[]|nil inferred shape (-1 = unknown dimension, nil = unknown rank)
---@field dtype ts.dtype
---@field id integer
---@operator add(ts.input): ts.Node
---@operator sub(ts.input): ts.Node
---@operator mul(ts.input): ts.Node
---@operator div(ts.input): ts.Node
---@operator pow(ts.input): ts.Node
---@operator unm: ts.Node
local Node = {}
--- The value of a variable or constant (a copy).
---@return ts.Tensor
function Node:value() end
--- Sets a variable's value (converted to its dtype; same shape); returns the node.
---@param value ts.value
---@return ts.Node
function Node:assign(value) end

-- <generated: Node op methods from the ts.NAME stubs (lua5.4 tools/annotations.lua)>
-- element-wise math
--- -x, element-wise (float32, float64, int64); also unary `-`.
---@param opts? ts.name_opts
---@return ts.Node
function Node:negative(opts) end
--- |x|, element-wise (float32, float64, int64).
---@param opts? ts.name_opts
---@return ts.Node
function Node:abs(opts) end
--- -1, 0 or 1 by the sign of x; keeps 0 and NaN (float32, float64, int64).
---@param opts? ts.name_opts
---@return ts.Node
function Node:sign(opts) end
--- x^2, element-wise (float32, float64, int64).
---@param opts? ts.name_opts
---@return ts.Node
function Node:square(opts) end
--- e^x, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:exp(opts) end
--- Natural logarithm, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:log(opts) end
--- log(1 + x), element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:log1p(opts) end
--- Square root, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:sqrt(opts) end
--- 1 / sqrt(x), element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:rsqrt(opts) end
--- 1 / x, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:reciprocal(opts) end
--- Sine, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:sin(opts) end
--- Cosine, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:cos(opts) end
--- Hyperbolic tangent, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:tanh(opts) end
--- 1 / (1 + e^-x), element-wise and stable: sigmoid(-1000) = 0 (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:sigmoid(opts) end
--- max(x, 0), element-wise; NaN passes through (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:relu(opts) end
--- log(1 + e^x), element-wise and stable: softplus(1000) = 1000 (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:softplus(opts) end
--- x Phi(x), the exact erf form, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:gelu(opts) end
--- x / (1 + |x|), element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:softsign(opts) end
--- x where x >= 0, else alpha x (alpha 0.2 by default; float).
---@param alpha? number|{alpha?: number, name?: string}
---@return ts.Node
function Node:leaky_relu(alpha) end
--- x where x >= 0, else alpha (e^x - 1) (alpha 1 by default; float).
---@param alpha? number|{alpha?: number, name?: string}
---@return ts.Node
function Node:elu(alpha) end

-- binary ops (NumPy broadcasting)
--- a + b (float32, float64, int64); also `+`.
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:add(b, opts) end
--- a - b (float32, float64, int64); also `-`.
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:subtract(b, opts) end
--- a * b (float32, float64, int64); also `*`.
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:multiply(b, opts) end
--- a / b (float); also `/`.
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:divide(b, opts) end
--- a ^ b (float); also `^`.
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:pow(b, opts) end
--- Element-wise maximum; NaN propagates (all dtypes).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:maximum(b, opts) end
--- Element-wise minimum; NaN propagates (all dtypes).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:minimum(b, opts) end
--- (a - b)^2 (float32, float64, int64).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:squared_difference(b, opts) end
--- a == b as uint8 0/1 (all dtypes).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:equal(b, opts) end
--- a ~= b as uint8 0/1 (all dtypes).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:not_equal(b, opts) end
--- a < b as uint8 0/1 (all dtypes).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:less(b, opts) end
--- a <= b as uint8 0/1 (all dtypes).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:less_equal(b, opts) end
--- a > b as uint8 0/1 (all dtypes).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:greater(b, opts) end
--- a >= b as uint8 0/1 (all dtypes).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:greater_equal(b, opts) end
--- a where cond is non-zero, else b; cond (uint8), a and b broadcast together; result has a's dtype.
--- With cond alone: the 1-based positions of its non-zero entries, int64 of shape [count, rank].
---@param a? ts.input|ts.name_opts
---@param b? ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:where(a, b, opts) end

-- reductions: axis nil = every axis, an integer or a list (1-based, negative from the end)
--- Sum over the axes; empty gives 0 (float32, float64, int64).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:reduce_sum(axis, keepdims) end
--- Alias of reduce_sum (methods only).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:sum(axis, keepdims) end
--- Mean over the axes; empty gives NaN (float).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:reduce_mean(axis, keepdims) end
--- Alias of reduce_mean (methods only).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:mean(axis, keepdims) end
--- Maximum over the axes; NaN propagates, an empty axis is an error (all dtypes).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:reduce_max(axis, keepdims) end
--- Alias of reduce_max (methods only).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:max(axis, keepdims) end
--- Minimum over the axes; NaN propagates, an empty axis is an error (all dtypes).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:reduce_min(axis, keepdims) end
--- Alias of reduce_min (methods only).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:min(axis, keepdims) end
--- Product over the axes; empty gives 1 (float32, float64, int64).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:reduce_prod(axis, keepdims) end
--- log(sum(exp(x))) over the axes, stable; empty gives -inf (float).
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:reduce_logsumexp(axis, keepdims) end
--- 1-based int64 index of the maximum along one axis (default the first); first on ties.
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:argmax(axis, keepdims) end
--- 1-based int64 index of the minimum along one axis (default the first); first on ties.
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node
function Node:argmin(axis, keepdims) end

-- linear algebra and shapes (axes, perm, begin and indices 1-based)
--- Matrix product through BLAS: rank 1, 2 or 3 (batched) operands (float).
---@param b ts.input
---@param opts? {transpose_a?: boolean, transpose_b?: boolean, name?: string}
---@return ts.Node
function Node:matmul(b, opts) end
--- Permutes the axes: result axis i is x's axis perm[i]; default reverses them.
---@param perm? integer[]|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:transpose(perm, opts) end
--- Same elements in C order with a new shape; one entry may be -1, {} gives a scalar.
---@param shape integer[]|integer
---@param opts? ts.name_opts
---@return ts.Node
function Node:reshape(shape, opts) end
--- Removes the given size-1 axes, or every size-1 axis.
---@param axis? integer|integer[]|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:squeeze(axis, opts) end
--- Inserts a size-1 axis that becomes axis `axis` of the result (1 .. rank+1; -1 appends).
---@param axis integer
---@param opts? ts.name_opts
---@return ts.Node
function Node:expand_dims(axis, opts) end
--- Joins the inputs along an existing axis (default 1); up to 64 inputs.
---@param others ts.input|ts.input[] the inputs after this one
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:concat(others, axis, opts) end
--- Joins same-shaped inputs along a new axis at position `axis` (default 1).
---@param others ts.input|ts.input[] the inputs after this one
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:stack(others, axis, opts) end
--- Pieces of x along `axis` (default 1): n equal ones or the given sizes (one may be -1).
---@param n_or_sizes integer|integer[]
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node[]
function Node:split(n_or_sizes, axis, opts) end
--- The box starting at `begin` (negative from the end) of extent `size` (-1 or nil: to the end).
---@param begin integer[]|integer
---@param size? integer[]|integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:slice(begin, size, opts) end
--- Slices of x along `axis` (default 1) at 1-based int64/uint8 `indices`.
---@param indices ts.input
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:gather(indices, axis, opts) end
--- Repeats x multiples[i] times along axis i.
---@param multiples integer[]|integer
---@param opts? ts.name_opts
---@return ts.Node
function Node:tile(multiples, opts) end
--- Surrounds x with constant_value (default 0): paddings is {{before, after}, ...}.
---@param paddings integer[][]
---@param constant_value? number|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:pad(paddings, constant_value, opts) end
--- Converts to dtype like C (floats to integers truncate toward zero).
---@param dtype ts.dtype
---@param opts? ts.name_opts
---@return ts.Node
function Node:cast(dtype, opts) end
--- Rows with a 1 at the 1-based index (index 0 or beyond depth: zeros); dtype float64 by default.
---@param depth integer
---@param opts? {dtype?: ts.dtype, name?: string}
---@return ts.Node
function Node:one_hot(depth, opts) end
--- A copy of x.
---@param opts? ts.name_opts
---@return ts.Node
function Node:identity(opts) end
--- A copy of x through which no gradient flows.
---@param opts? ts.name_opts
---@return ts.Node
function Node:stop_gradient(opts) end
--- Zeros of x's shape and dtype.
---@param opts? ts.name_opts
---@return ts.Node
function Node:zeros_like(opts) end
--- Ones of x's shape and dtype.
---@param opts? ts.name_opts
---@return ts.Node
function Node:ones_like(opts) end

-- index ops (lua/tensorslow/index.lua): indices 1-based, negative from the end
--- Slices of x at the index rows along indices' last axis (TF1's gather_nd); batch_dims
--- leading axes are shared by x and indices.
---@param indices ts.input
---@param opts? {batch_dims?: integer, name?: string}
---@return ts.Node
function Node:gather_nd(indices, opts) end
--- tensor with the slices at indices (rows along indices' last axis) replaced by updates
--- (a repeated index: the last update wins).
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:tensor_scatter_nd_update(indices, updates, opts) end
--- tensor with updates added at indices (repeated indices add up).
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:tensor_scatter_nd_add(indices, updates, opts) end
--- tensor with updates subtracted at indices.
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:tensor_scatter_nd_sub(indices, updates, opts) end
--- tensor with the larger of it and updates at indices.
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:tensor_scatter_nd_max(indices, updates, opts) end
--- tensor with the smaller of it and updates at indices.
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:tensor_scatter_nd_min(indices, updates, opts) end
--- out[i][j] = x[indices[i][j]][j] for axis 1 (torch.gather): indices has x's rank.
---@param indices ts.input
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:gather_elements(indices, axis, opts) end
--- data with updates[i][j] put at [indices[i][j]][j] for axis 1; reduction "none" (the
--- last of repeated indices wins), "add", "mul", "max" or "min".
---@param indices ts.input
---@param updates ts.input
---@param axis? integer|{reduction?: string, name?: string}
---@param opts? {reduction?: string, name?: string}
---@return ts.Node
function Node:scatter_elements(indices, updates, axis, opts) end
--- The k largest (largest = false: smallest) entries along axis (default -1), sorted, and
--- their 1-based int64 positions; equal values in index order, NaN counted largest.
---@param k integer
---@param opts? {axis?: integer, largest?: boolean, sorted?: boolean, name?: string}
---@return ts.Node
---@return ts.Node
function Node:top_k(k, opts) end
--- The 1-based positions (int64) that sort x along axis (default -1), stable (equal values in
--- index order), NaN largest; direction "ASCENDING" (default) or "DESCENDING".
---@param axis? integer|{direction?: string, name?: string}
---@param opts? {direction?: string, name?: string}
---@return ts.Node
function Node:argsort(axis, opts) end
--- x sorted along axis (default -1); direction "ASCENDING" (default) or "DESCENDING".
---@param axis? integer|{direction?: string, name?: string}
---@param opts? {direction?: string, name?: string}
---@return ts.Node
function Node:sort(axis, opts) end
--- Running sums along axis (default 1); exclusive leaves the entry itself out, reverse sums
--- from the end.
---@param axis? integer|{exclusive?: boolean, reverse?: boolean, name?: string}
---@param opts? {exclusive?: boolean, reverse?: boolean, name?: string}
---@return ts.Node
function Node:cumsum(axis, opts) end
--- x's innermost matrices with entries more than num_lower below or num_upper above the
--- diagonal zeroed (a negative count keeps that whole triangle).
---@param num_lower integer
---@param num_upper integer
---@param opts? ts.name_opts
---@return ts.Node
function Node:matrix_band_part(num_lower, num_upper, opts) end
--- x repeated along its size-1 or missing leading axes to shape (NumPy broadcasting).
---@param shape integer[]
---@param opts? ts.name_opts
---@return ts.Node
function Node:broadcast_to(shape, opts) end
--- x with the order along the given axis (or axes) reversed.
---@param axis integer|integer[]
---@param opts? ts.name_opts
---@return ts.Node
function Node:reverse(axis, opts) end
--- For each entry b along batch_axis (default 1), the first seq_lengths[b] entries along
--- seq_axis reversed.
---@param seq_lengths ts.input
---@param seq_axis integer
---@param batch_axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:reverse_sequence(seq_lengths, seq_axis, batch_axis, opts) end
--- The entries of tensor where mask (of the shape of tensor's axes axis .. axis + rank(mask) - 1,
--- default axis 1) is non-zero, those axes flattened into one (TF1's boolean_mask).
---@param mask ts.input
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node
function Node:boolean_mask(mask, axis, opts) end
--- The distinct entries of x (flattened), or with axis its distinct slices along axis, in
--- order of first occurrence (TF1's unique) or sorted (slices lexicographically). Returns y,
--- idx (each entry's or slice's 1-based place in y), count and first (the 1-based position of
--- each first occurrence in x); the last three int64.
---@param opts? {axis?: integer, sorted?: boolean, name?: string}
---@return ts.Node
---@return ts.Node
---@return ts.Node
---@return ts.Node
function Node:unique(opts) end

-- neural-network ops (float; also in ts.nn)
--- exp(x - max) / sum along `axis` (default -1), stable.
---@param axis? integer|{axis?: integer, name?: string}
---@param opts? ts.name_opts
---@return ts.Node
function Node:softmax(axis, opts) end
--- x - max - log(sum(exp(x - max))) along `axis` (default -1), stable.
---@param axis? integer|{axis?: integer, name?: string}
---@param opts? ts.name_opts
---@return ts.Node
function Node:log_softmax(axis, opts) end
--- Scalar mean of (predictions - labels)^2 (0 for empty inputs).
---@param predictions ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:mean_squared_error(predictions, opts) end
--- Scalar sum(x^2) / 2.
---@param opts? ts.name_opts
---@return ts.Node
function Node:l2_loss(opts) end
--- Adds the 1-D bias along x's last axis.
---@param bias ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:bias_add(bias, opts) end
--- Inverted dropout: keeps each value with probability 1 - rate, scaled by 1/(1 - rate), when training.
---@param rate number in [0, 1)
---@param opts? {training?: boolean|ts.Node|ts.Tensor, seed?: integer, name?: string}
---@return ts.Node
function Node:dropout(rate, opts) end

-- normalization (float; also in ts.nn)
--- TensorFlow 1.x's fused batch normalization: y, batch_mean, batch_variance. Training (the
--- default): the batch's statistics over every axis but the channels (data_format "NHWC", the
--- default, or "NCHW"; also NC, NWC, NCW, NDHWC, NCDHW: channels last or second, rank >= 2);
--- y uses the biased variance, batch_variance is the unbiased one (n / (n - 1)), as TF returns
--- it; with exponential_avg_factor f ~= 1 both returned statistics are (1 - f) * given + f *
--- batch. Inference (is_training = false): y from the given mean and variance, which are
--- returned. epsilon (default 0.001) below 1.001e-5 is raised to it, as TF does.
---@param scale ts.input
---@param offset ts.input
---@param opts? ts.fused_batch_norm_opts
---@return ts.Node
---@return ts.Node
---@return ts.Node
function Node:fused_batch_norm(scale, offset, opts) end
--- (x - mean) / sqrt(variance + epsilon) * gamma + beta over the axes begin_norm_axis..rank
--- (default -1: the last; tf.contrib.layers.layer_norm's 1 is 2 here); gamma and beta (each
--- optional) of x.shape[begin_params_axis:] (default -1); epsilon 1e-12 (tf.contrib's).
---@param opts? ts.layer_normalization_opts
---@return ts.Node
function Node:layer_normalization(opts) end
--- x / sqrt(max(sum(x^2), epsilon)) over axis (1-based, a list, or nil: every axis); epsilon
--- 1e-12 by default. l2_normalize(x, {axis=, epsilon=, name=}) also works.
---@param axis? integer|integer[]|{axis?: integer|integer[], epsilon?: number, name?: string}
---@param opts? {epsilon?: number, name?: string}
---@return ts.Node
function Node:l2_normalize(axis, opts) end

-- The ops added for ONNX import (issue 15; lua/tensorslow/math2.lua).
--- The error function, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:erf(opts) end
--- Rounds down, element-wise (float; no gradient).
---@param opts? ts.name_opts
---@return ts.Node
function Node:floor(opts) end
--- Rounds up, element-wise (float; no gradient).
---@param opts? ts.name_opts
---@return ts.Node
function Node:ceil(opts) end
--- Rounds to the nearest integer, halves to even (float; no gradient).
---@param opts? ts.name_opts
---@return ts.Node
function Node:round(opts) end
--- Inverse cosine, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:acos(opts) end
--- Inverse sine, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:asin(opts) end
--- Inverse tangent, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:atan(opts) end
--- Hyperbolic cosine, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:cosh(opts) end
--- Hyperbolic sine, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:sinh(opts) end
--- Tangent, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:tan(opts) end
--- Inverse hyperbolic cosine, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:acosh(opts) end
--- Inverse hyperbolic sine, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:asinh(opts) end
--- Inverse hyperbolic tangent, element-wise (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:atanh(opts) end
--- gamma * (x > 0 ? x : alpha * (exp(x) - 1)) (float; the self-normalising alpha and gamma by default).
---@param opts? {alpha?: number, gamma?: number, name?: string}
---@return ts.Node
function Node:selu(opts) end
--- max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (float; alpha 1, not 0).
---@param opts? {alpha?: number, name?: string}
---@return ts.Node
function Node:celu(opts) end
--- max(0, min(1, alpha * x + beta)) (float; alpha 0.2, beta 0.5).
---@param opts? {alpha?: number, beta?: number, name?: string}
---@return ts.Node
function Node:hard_sigmoid(opts) end
--- x * max(0, min(6, x + 3)) / 6 (float).
---@param opts? ts.name_opts
---@return ts.Node
function Node:hard_swish(opts) end
--- x + bias where x < -lambd, x - bias where x > lambd, else 0 (float; lambd 0.5, bias 0).
---@param opts? {lambd?: number, bias?: number, name?: string}
---@return ts.Node
function Node:shrink(opts) end
--- x where x > alpha, else 0 (float; alpha 1).
---@param opts? {alpha?: number, name?: string}
---@return ts.Node
function Node:thresholded_relu(opts) end
--- 1 where x is NaN, else 0 (float in, uint8 out).
---@param opts? ts.name_opts
---@return ts.Node
function Node:is_nan(opts) end
--- 1 where x is +-inf, else 0 (float in, uint8 out).
---@param opts? ts.name_opts
---@return ts.Node
function Node:is_inf(opts) end
--- 1 where x is 0, else 0 (uint8).
---@param opts? ts.name_opts
---@return ts.Node
function Node:logical_not(opts) end
--- ~x, element-wise (int64, uint8).
---@param opts? ts.name_opts
---@return ts.Node
function Node:bitwise_invert(opts) end
--- a - floor(a / b) * b: the remainder with b's sign (all dtypes; integer b = 0 gives 0).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:floormod(b, opts) end
--- The remainder with a's sign, C's fmod (all dtypes; integer b = 0 gives 0; no gradient).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:truncatemod(b, opts) end
--- a and b as uint8 0/1 (uint8: non-zero is true).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:logical_and(b, opts) end
--- a or b as uint8 0/1 (uint8: non-zero is true).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:logical_or(b, opts) end
--- a xor b as uint8 0/1 (uint8: non-zero is true).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:logical_xor(b, opts) end
--- a & b (int64, uint8).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:bitwise_and(b, opts) end
--- a | b (int64, uint8).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:bitwise_or(b, opts) end
--- a ~ b (int64, uint8).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:bitwise_xor(b, opts) end
--- a << b (int64, uint8; b outside [0, bits) gives 0).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:left_shift(b, opts) end
--- a >> b, arithmetic for int64 (int64, uint8; b outside [0, bits) shifts every bit out).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:right_shift(b, opts) end
--- a where a >= 0, else b * a (float; the slope b broadcast against a).
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node
function Node:prelu(b, opts) end
--- 1 at the first maximum along axis (default -1), 0 elsewhere, in x's dtype (no gradient).
---@param opts? {axis?: integer, name?: string}
---@return ts.Node
function Node:hardmax(opts) end
--- Moves channels into block_size x block_size spatial blocks (rank 4; data_format "NHWC" (default)
--- or "NCHW"; mode "DCR" (default, TF1's order) or "CRD").
---@param block_size integer
---@param opts? {data_format?: "NHWC"|"NCHW", mode?: "DCR"|"CRD", name?: string}
---@return ts.Node
function Node:depth_to_space(block_size, opts) end
--- The inverse of depth_to_space: block_size x block_size spatial blocks into channels.
---@param block_size integer
---@param opts? {data_format?: "NHWC"|"NCHW", mode?: "DCR"|"CRD", name?: string}
---@return ts.Node
function Node:space_to_depth(block_size, opts) end
--- x / (bias + alpha * sum of x^2 over the channels within depth_radius)^beta along the last axis
--- (depth_radius 5, bias 1, alpha 1, beta 0.5).
---@param opts? {depth_radius?: integer, bias?: number, alpha?: number, beta?: number, name?: string}
---@return ts.Node
function Node:local_response_normalization(opts) end
--- Each sample's channels normalized over their spatial axes (epsilon 1e-5), then scale * y + offset
--- per channel (either may be nil); data_format "NHWC" (default) or "NCHW".
---@param scale? ts.input
---@param offset? ts.input
---@param opts? {epsilon?: number, data_format?: "NHWC"|"NCHW", name?: string}
---@return ts.Node
function Node:instance_normalization(scale, offset, opts) end
-- </generated>

---@class ts.Graph
---@operator len: integer
local Graph = {}
--- Makes this graph the default one (per lua_State); returns it.
---@return ts.Graph
function Graph:as_default() end
--- The nodes that are not placeholders, variables or constants, in creation order.
---@return ts.Node[]
function Graph:operations() end
--- The placeholders in creation order.
---@return ts.Node[]
function Graph:placeholders() end
--- The variables in creation order (optimizer slots included).
---@return ts.Node[]
function Graph:variables() end
--- Every node in creation order.
---@return ts.Node[]
function Graph:nodes() end
--- The node of that name, or nil.
---@param name string
---@return ts.Node|nil
function Graph:get(name) end
--- The number of nodes (also #g).
---@return integer
function Graph:size() end
--- Writes ts.dot(g) to a file; returns path.
---@param path string
---@return string
function Graph:write_dot(path) end

---@class ts.Profile
---@field steps {name: string, op: string, seconds: number, bytes: integer}[] in execution order
---@field nodes {name: string, op: string, seconds: number, bytes: integer}[] by cost
---@field ops {op: string, count: integer, seconds: number, bytes: integer}[] by cost
---@field total number seconds

---@class ts.Session
local Session = {}
--- Computes the fetches for the feeds: a node gives a tensor, an array an array, a table with
--- string keys the same keys (nil for a node that yields nothing, e.g. a training step).
--- opts.out (shaped like fetch) receives the results in your tensors and is returned;
--- opts.profile = true adds a second result. Inside a coroutine, opts.yield_every = n yields
--- (no values) after every n computing steps, opts.yield_after_us = t after a step ending t µs
--- into the slice; the run resumes where it stopped.
---@param fetch ts.Node|ts.Node[]|table<string, ts.Node>
---@param feed? table<ts.Node, ts.value>
---@param opts? {profile?: boolean, out?: ts.Tensor|ts.Tensor[]|table<string, ts.Tensor>, yield_every?: integer, yield_after_us?: integer}
---@return ts.Tensor|ts.Tensor[]|table<string, ts.Tensor>
---@return ts.Profile|nil
function Session:run(fetch, feed, opts) end
--- Frees the plans and buffers (also at `<close>` and collection); safe twice.
function Session:close() end
--- The session's graph.
---@return ts.Graph
function Session:graph() end
--- The number of steps of the cached plan for these fetches and feeds, nil when none is cached.
---@param fetch ts.Node|ts.Node[]|table<string, ts.Node>
---@param feed? table<ts.Node, ts.value>
---@return integer|nil
function Session:plan_steps(fetch, feed) end
--- Buffers the plans have allocated so far, the number of cached plans, their steps
--- computed in place over an input's buffer, runs in progress (suspended ones included), the
--- plans they pin, and the bytes the plans hold.
---@return {allocations: integer, plans: integer, in_place: integer, running: integer, pinned: integer, bytes: integer}
function Session:stats() end
--- The bytes a run of the plan for these fetches needs with feeds of these shapes (dims or a
--- tensor per placeholder), before running it: the total and its parts.
---@param fetch ts.Node|ts.Node[]|table<string, ts.Node>
---@param feed_shapes? table<ts.Node, integer[]|ts.Tensor>
---@return integer
---@return {total: integer, buffers: integer, nbuffers: integer, work: integer, results: integer, stack: integer}
function Session:plan_memory(fetch, feed_shapes) end

-- An optimizer of ts.train: builds the nodes that update the variables of a loss.
---@class ts.Optimizer
---@field kind "GradientDescent"|"Momentum"|"Adam"|"RMSProp"|"Adagrad"|"AdamW"
---@field learning_rate number|ts.Node a number or a scalar node (e.g. a schedule)
local Optimizer = {}
--- The gradient of loss with respect to each variable (default: ts.trainable_variables).
---@param loss ts.Node
---@param var_list? ts.Node[]
---@return ts.grad_and_var[]
function Optimizer:compute_gradients(loss, var_list) end
--- One group node that updates every variable that has a gradient when it runs, and adds 1 to
--- global_step when given (TF1).
---@param grads_and_vars ts.grad_and_var[]
---@param opts? ts.Node|{global_step?: ts.Node} the global step, or options
---@return ts.Node
function Optimizer:apply_gradients(grads_and_vars, opts) end
--- compute_gradients then apply_gradients: the training step. It adds 1 to the graph's global step
--- (when ts.train.get_or_create_global_step made one before) unless global_step = false.
---@param loss ts.Node
---@param var_list? ts.Node[]|{global_step?: ts.Node|false, var_list?: ts.Node[]}
---@param opts? {global_step?: ts.Node|false, var_list?: ts.Node[]}
---@return ts.Node
function Optimizer:minimize(loss, var_list, opts) end

---@class ts.MomentumOptimizer: ts.Optimizer
---@field momentum number
---@field use_nesterov boolean|nil

---@class ts.AdamOptimizer: ts.Optimizer
---@field beta1 number
---@field beta2 number
---@field epsilon number

---@class ts.RMSPropOptimizer: ts.Optimizer
---@field decay number
---@field momentum number
---@field epsilon number

---@class ts.AdagradOptimizer: ts.Optimizer
---@field initial_accumulator_value number

---@class ts.AdamWOptimizer: ts.Optimizer
---@field weight_decay number
---@field beta1 number
---@field beta2 number
---@field epsilon number

-- A streaming metric: run update per batch, read value on its own afterwards, run reset to
-- start again (fetched beside update, value is the value before that batch).
---@class ts.Metric
---@field value ts.Node the metric of the batches added since the last reset (float64; int64 counts)
---@field update ts.Node adds the fed batch (returns nothing)
---@field reset ts.Node sets the totals to 0 (returns nothing)
---@field variables ts.Node[] its local variables (float64 totals: not trainable, not saved)
---@field name string the name scope of its nodes ("accuracy", "accuracy_1", ...)

-- A scope from ts.name_scope or ts.variable_scope without a function: close it (or make it
-- `local s <close> = ...`) to leave it.
---@class ts.Scope
---@field name string its full name ("outer/inner"; a name scope made unique: "block_1")
---@field reuse? boolean|"auto" a variable scope's effective reuse
local Scope = {}
--- Leaves the scope (again: nothing; while a scope opened inside it is open: an error).
function Scope:close() end

-- Checkpoints of variables as one safetensors file keyed by node name.
---@class ts.Saver
---@field var_list ts.Node[]|nil nil: every variable of the session's graph
local Saver = {}
--- Writes every variable's value (optimizer slots included) atomically; returns path.
--- Under tensorslow.mpi only rank 0 writes (the others wait for it) unless all_ranks.
---@param sess ts.Session
---@param path string
---@param opts? {all_ranks?: boolean}
---@return string
function Saver:save(sess, path, opts) end
--- Assigns the saved values back after checking names, shapes and dtypes; returns path.
---@param sess ts.Session
---@param path string
---@return string
function Saver:restore(sess, path) end

-- ts.Operation's specification of an op computed in Lua.
---@class ts.OperationSpec
---@field type string the op type (node.op)
---@field inputs? ts.Node|ts.Node[]
---@field compute fun(...: ts.Tensor): ts.value the result from the input values, at run time
---@field shape? integer[]|fun(...: integer[]|false): integer[]|nil the output shape (from the inputs')
---@field dtype? ts.dtype default: the first input's, else float64
---@field name? string
---@field graph? ts.Graph default: the inputs', else the default graph
---@field gradient? fun(op: ts.Node, grad: ts.Node): (ts.Node|nil)[]|ts.Node

---@class tensorslow
---@field _VERSION string
local ts = {}

-- Tensors

--- A tensor from a number, nested tables or a tensor (copied), float64 unless dtype says otherwise.
---@param value ts.value
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.tensor(value, dtype) end
--- Zeros of that shape.
---@param shape integer[]
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.zeros(shape, dtype) end
--- Ones of that shape.
---@param shape integer[]
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.ones(shape, dtype) end
--- A tensor of that shape filled with value.
---@param shape integer[]
---@param value number
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.fill(shape, value, dtype) end
--- The n x m identity matrix (m = n by default).
---@param n integer
---@param m? integer
---@param dtype? ts.dtype
---@return ts.Tensor
---@overload fun(n: integer, dtype: ts.dtype): ts.Tensor
function ts.eye(n, m, dtype) end
--- The half-open range [start, stop) by step, like NumPy's (start 0, step 1 by default).
---@param start number
---@param stop number
---@param step? number
---@param dtype? ts.dtype
---@return ts.Tensor
---@overload fun(stop: number, dtype?: ts.dtype): ts.Tensor
---@overload fun(start: number, stop: number, dtype: ts.dtype): ts.Tensor
function ts.arange(start, stop, step, dtype) end
--- Uniform numbers in [0, 1) from the state's generator (float dtypes).
---@param shape integer[]
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.rand(shape, dtype) end
--- Standard normal numbers from the state's generator (float dtypes).
---@param shape integer[]
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.randn(shape, dtype) end
--- Seeds the state's random generator (seed 0 when the module loads).
---@param seed integer
function ts.seed(seed) end
--- Threads for large element-wise kernels, softmax and OpenBLAS (1..256; default: the cores).
---@param n integer
function ts.set_num_threads(n) end
--- The number of threads set by ts.set_num_threads.
---@return integer
function ts.get_num_threads() end
--- Which kernels run this state's matrix products (matmul, the convolutions' blocks, a row
--- times a matrix): "auto" (default) is tensorslow's own where the CPU has them (AVX-512F/VL;
--- AVX2+FMA for a row times a matrix), OpenBLAS elsewhere; "openblas" is OpenBLAS everywhere.
--- Products of at most 4096 multiply-adds stay in tensorslow's small loops either way.
---@param name "auto"|"openblas"
function ts.set_matmul_kernel(name) end
--- "tensorslow" when this state's products run tensorslow's AVX-512 kernel, else "openblas".
---@return "tensorslow"|"openblas"
function ts.get_matmul_kernel() end
--- Seconds from a monotonic clock, for timing.
---@return number
function ts.clock() end
--- Whether v is a graph node.
---@param v any
---@return boolean
function ts.is_node(v) end
--- Whether v is a tensor.
---@param v any
---@return boolean
function ts.is_tensor(v) end

-- Graphs and sessions

--- A new, empty graph.
---@return ts.Graph
function ts.Graph() end
--- The graph new nodes go to (one exists when the module loads; per lua_State).
---@return ts.Graph
function ts.get_default_graph() end
--- Makes g the default graph (like g:as_default()); returns g.
---@param g ts.Graph
---@return ts.Graph
function ts.set_default_graph(g) end
--- A value fed at run time (-1 marks an unknown dimension; no shape: unknown rank).
---@param opts? {shape?: integer[], dtype?: ts.dtype, name?: string, graph?: ts.Graph}
---@return ts.Node
function ts.placeholder(opts) end
--- A node holding a value that training updates.
---@param value ts.value
---@param opts? {name?: string, dtype?: ts.dtype, graph?: ts.Graph}
---@return ts.Node
function ts.Variable(value, opts) end
--- A node holding a fixed value.
---@param value ts.value
---@param opts? {name?: string, dtype?: ts.dtype, graph?: ts.Graph}
---@return ts.Node
function ts.constant(value, opts) end
--- A session that runs nodes of graph (default: the default graph).
---@param graph? ts.Graph
---@return ts.Session
function ts.Session(graph) end
--- Applies the core op `name` with C attributes: a node when any input is a node, else a
--- tensor (low level: what every op wrapper calls).
---@param name string
---@param attrs? table
---@param inputs ts.input[] with field n when an entry may be nil
---@param dtypes? (ts.dtype|nil)[] the dtype Lua values at each position become
---@return ts.Node|ts.Tensor
function ts.apply(name, attrs, inputs, dtypes) end

-- Ops: ts.NAME gives a node when any operand is a node, else a tensor computed at once.

-- element-wise math
--- -x, element-wise (float32, float64, int64); also unary `-`.
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.negative(x, opts) end
--- |x|, element-wise (float32, float64, int64).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.abs(x, opts) end
--- -1, 0 or 1 by the sign of x; keeps 0 and NaN (float32, float64, int64).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.sign(x, opts) end
--- x^2, element-wise (float32, float64, int64).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.square(x, opts) end
--- e^x, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.exp(x, opts) end
--- Natural logarithm, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.log(x, opts) end
--- log(1 + x), element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.log1p(x, opts) end
--- Square root, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.sqrt(x, opts) end
--- 1 / sqrt(x), element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.rsqrt(x, opts) end
--- 1 / x, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.reciprocal(x, opts) end
--- Sine, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.sin(x, opts) end
--- Cosine, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.cos(x, opts) end
--- Hyperbolic tangent, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.tanh(x, opts) end
--- 1 / (1 + e^-x), element-wise and stable: sigmoid(-1000) = 0 (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.sigmoid(x, opts) end
--- max(x, 0), element-wise; NaN passes through (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.relu(x, opts) end
--- log(1 + e^x), element-wise and stable: softplus(1000) = 1000 (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.softplus(x, opts) end
--- x Phi(x), the exact erf form, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.gelu(x, opts) end
--- x / (1 + |x|), element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.softsign(x, opts) end
--- x where x >= 0, else alpha x (alpha 0.2 by default; float).
---@param x ts.input
---@param alpha? number|{alpha?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.leaky_relu(x, alpha) end
--- x where x >= 0, else alpha (e^x - 1) (alpha 1 by default; float).
---@param x ts.input
---@param alpha? number|{alpha?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.elu(x, alpha) end

-- binary ops (NumPy broadcasting)
--- a + b (float32, float64, int64); also `+`.
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.add(a, b, opts) end
--- a - b (float32, float64, int64); also `-`.
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.subtract(a, b, opts) end
--- a * b (float32, float64, int64); also `*`.
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.multiply(a, b, opts) end
--- a / b (float); also `/`.
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.divide(a, b, opts) end
--- a ^ b (float); also `^`.
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.pow(a, b, opts) end
--- Element-wise maximum; NaN propagates (all dtypes).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.maximum(a, b, opts) end
--- Element-wise minimum; NaN propagates (all dtypes).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.minimum(a, b, opts) end
--- (a - b)^2 (float32, float64, int64).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.squared_difference(a, b, opts) end
--- a == b as uint8 0/1 (all dtypes).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.equal(a, b, opts) end
--- a ~= b as uint8 0/1 (all dtypes).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.not_equal(a, b, opts) end
--- a < b as uint8 0/1 (all dtypes).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.less(a, b, opts) end
--- a <= b as uint8 0/1 (all dtypes).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.less_equal(a, b, opts) end
--- a > b as uint8 0/1 (all dtypes).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.greater(a, b, opts) end
--- a >= b as uint8 0/1 (all dtypes).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.greater_equal(a, b, opts) end
--- a where cond is non-zero, else b; cond (uint8), a and b broadcast together; result has a's dtype.
--- With cond alone: the 1-based positions of its non-zero entries, int64 of shape [count, rank].
---@param cond ts.input
---@param a? ts.input|ts.name_opts
---@param b? ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.where(cond, a, b, opts) end

-- reductions: axis nil = every axis, an integer or a list (1-based, negative from the end)
--- Sum over the axes; empty gives 0 (float32, float64, int64).
---@param x ts.input
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node|ts.Tensor
function ts.reduce_sum(x, axis, keepdims) end
--- Mean over the axes; empty gives NaN (float).
---@param x ts.input
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node|ts.Tensor
function ts.reduce_mean(x, axis, keepdims) end
--- Maximum over the axes; NaN propagates, an empty axis is an error (all dtypes).
---@param x ts.input
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node|ts.Tensor
function ts.reduce_max(x, axis, keepdims) end
--- Minimum over the axes; NaN propagates, an empty axis is an error (all dtypes).
---@param x ts.input
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node|ts.Tensor
function ts.reduce_min(x, axis, keepdims) end
--- Product over the axes; empty gives 1 (float32, float64, int64).
---@param x ts.input
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node|ts.Tensor
function ts.reduce_prod(x, axis, keepdims) end
--- log(sum(exp(x))) over the axes, stable; empty gives -inf (float).
---@param x ts.input
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node|ts.Tensor
function ts.reduce_logsumexp(x, axis, keepdims) end
--- 1-based int64 index of the maximum along one axis (default the first); first on ties.
---@param x ts.input
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node|ts.Tensor
function ts.argmax(x, axis, keepdims) end
--- 1-based int64 index of the minimum along one axis (default the first); first on ties.
---@param x ts.input
---@param axis? ts.axis|ts.reduce_opts
---@param keepdims? boolean|ts.reduce_opts
---@return ts.Node|ts.Tensor
function ts.argmin(x, axis, keepdims) end

-- linear algebra and shapes (axes, perm, begin and indices 1-based)
--- Matrix product through BLAS: rank 1, 2 or 3 (batched) operands (float).
---@param a ts.input
---@param b ts.input
---@param opts? {transpose_a?: boolean, transpose_b?: boolean, name?: string}
---@return ts.Node|ts.Tensor
function ts.matmul(a, b, opts) end
--- Permutes the axes: result axis i is x's axis perm[i]; default reverses them.
---@param x ts.input
---@param perm? integer[]|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.transpose(x, perm, opts) end
--- Same elements in C order with a new shape; one entry may be -1, {} gives a scalar.
---@param x ts.input
---@param shape integer[]|integer
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.reshape(x, shape, opts) end
--- Removes the given size-1 axes, or every size-1 axis.
---@param x ts.input
---@param axis? integer|integer[]|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.squeeze(x, axis, opts) end
--- Inserts a size-1 axis that becomes axis `axis` of the result (1 .. rank+1; -1 appends).
---@param x ts.input
---@param axis integer
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.expand_dims(x, axis, opts) end
--- Joins the inputs along an existing axis (default 1); up to 64 inputs.
---@param values ts.input[]
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.concat(values, axis, opts) end
--- Joins same-shaped inputs along a new axis at position `axis` (default 1).
---@param values ts.input[]
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.stack(values, axis, opts) end
--- Pieces of x along `axis` (default 1): n equal ones or the given sizes (one may be -1).
---@param x ts.input
---@param n_or_sizes integer|integer[]
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node[]|ts.Tensor[]
function ts.split(x, n_or_sizes, axis, opts) end
--- The box starting at `begin` (negative from the end) of extent `size` (-1 or nil: to the end).
---@param x ts.input
---@param begin integer[]|integer
---@param size? integer[]|integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.slice(x, begin, size, opts) end
--- Slices of x along `axis` (default 1) at 1-based int64/uint8 `indices`.
---@param x ts.input
---@param indices ts.input
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.gather(x, indices, axis, opts) end
--- Repeats x multiples[i] times along axis i.
---@param x ts.input
---@param multiples integer[]|integer
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.tile(x, multiples, opts) end
--- Surrounds x with constant_value (default 0): paddings is {{before, after}, ...}.
---@param x ts.input
---@param paddings integer[][]
---@param constant_value? number|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.pad(x, paddings, constant_value, opts) end
--- Converts to dtype like C (floats to integers truncate toward zero).
---@param x ts.input
---@param dtype ts.dtype
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.cast(x, dtype, opts) end
--- Rows with a 1 at the 1-based index (index 0 or beyond depth: zeros); dtype float64 by default.
---@param indices ts.input
---@param depth integer
---@param opts? {dtype?: ts.dtype, name?: string}
---@return ts.Node|ts.Tensor
function ts.one_hot(indices, depth, opts) end
--- A copy of x.
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.identity(x, opts) end
--- A copy of x through which no gradient flows.
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.stop_gradient(x, opts) end
--- Zeros of x's shape and dtype.
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.zeros_like(x, opts) end
--- Ones of x's shape and dtype.
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.ones_like(x, opts) end

-- index ops (lua/tensorslow/index.lua): indices 1-based, negative from the end
--- Slices of x at the index rows along indices' last axis (TF1's gather_nd); batch_dims
--- leading axes are shared by x and indices.
---@param x ts.input
---@param indices ts.input
---@param opts? {batch_dims?: integer, name?: string}
---@return ts.Node|ts.Tensor
function ts.gather_nd(x, indices, opts) end
--- tensor with the slices at indices (rows along indices' last axis) replaced by updates
--- (a repeated index: the last update wins).
---@param tensor ts.input
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.tensor_scatter_nd_update(tensor, indices, updates, opts) end
--- tensor with updates added at indices (repeated indices add up).
---@param tensor ts.input
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.tensor_scatter_nd_add(tensor, indices, updates, opts) end
--- tensor with updates subtracted at indices.
---@param tensor ts.input
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.tensor_scatter_nd_sub(tensor, indices, updates, opts) end
--- tensor with the larger of it and updates at indices.
---@param tensor ts.input
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.tensor_scatter_nd_max(tensor, indices, updates, opts) end
--- tensor with the smaller of it and updates at indices.
---@param tensor ts.input
---@param indices ts.input
---@param updates ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.tensor_scatter_nd_min(tensor, indices, updates, opts) end
--- Zeros of shape with updates added at indices (repeated indices add up).
---@param indices ts.input
---@param updates ts.input
---@param shape integer[]
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.scatter_nd(indices, updates, shape, opts) end
--- out[i][j] = x[indices[i][j]][j] for axis 1 (torch.gather): indices has x's rank.
---@param x ts.input
---@param indices ts.input
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.gather_elements(x, indices, axis, opts) end
--- data with updates[i][j] put at [indices[i][j]][j] for axis 1; reduction "none" (the
--- last of repeated indices wins), "add", "mul", "max" or "min".
---@param data ts.input
---@param indices ts.input
---@param updates ts.input
---@param axis? integer|{reduction?: string, name?: string}
---@param opts? {reduction?: string, name?: string}
---@return ts.Node|ts.Tensor
function ts.scatter_elements(data, indices, updates, axis, opts) end
--- The k largest (largest = false: smallest) entries along axis (default -1), sorted, and
--- their 1-based int64 positions; equal values in index order, NaN counted largest.
---@param x ts.input
---@param k integer
---@param opts? {axis?: integer, largest?: boolean, sorted?: boolean, name?: string}
---@return ts.Node|ts.Tensor values
---@return ts.Node|ts.Tensor indices
function ts.top_k(x, k, opts) end
--- The 1-based positions (int64) that sort x along axis (default -1), stable (equal values in
--- index order), NaN largest; direction "ASCENDING" (default) or "DESCENDING".
---@param x ts.input
---@param axis? integer|{direction?: string, name?: string}
---@param opts? {direction?: string, name?: string}
---@return ts.Node|ts.Tensor
function ts.argsort(x, axis, opts) end
--- x sorted along axis (default -1); direction "ASCENDING" (default) or "DESCENDING".
---@param x ts.input
---@param axis? integer|{direction?: string, name?: string}
---@param opts? {direction?: string, name?: string}
---@return ts.Node|ts.Tensor
function ts.sort(x, axis, opts) end
--- Running sums along axis (default 1); exclusive leaves the entry itself out, reverse sums
--- from the end.
---@param x ts.input
---@param axis? integer|{exclusive?: boolean, reverse?: boolean, name?: string}
---@param opts? {exclusive?: boolean, reverse?: boolean, name?: string}
---@return ts.Node|ts.Tensor
function ts.cumsum(x, axis, opts) end
--- x's innermost matrices with entries more than num_lower below or num_upper above the
--- diagonal zeroed (a negative count keeps that whole triangle).
---@param x ts.input
---@param num_lower integer
---@param num_upper integer
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.matrix_band_part(x, num_lower, num_upper, opts) end
--- x repeated along its size-1 or missing leading axes to shape (NumPy broadcasting).
---@param x ts.input
---@param shape integer[]
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.broadcast_to(x, shape, opts) end
--- x with the order along the given axis (or axes) reversed.
---@param x ts.input
---@param axis integer|integer[]
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.reverse(x, axis, opts) end
--- For each entry b along batch_axis (default 1), the first seq_lengths[b] entries along
--- seq_axis reversed.
---@param x ts.input
---@param seq_lengths ts.input
---@param seq_axis integer
---@param batch_axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.reverse_sequence(x, seq_lengths, seq_axis, batch_axis, opts) end
--- The entries of tensor where mask (of the shape of tensor's axes axis .. axis + rank(mask) - 1,
--- default axis 1) is non-zero, those axes flattened into one (TF1's boolean_mask).
---@param tensor ts.input
---@param mask ts.input
---@param axis? integer|ts.name_opts
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.boolean_mask(tensor, mask, axis, opts) end
--- The distinct entries of x (flattened), or with axis its distinct slices along axis, in
--- order of first occurrence (TF1's unique) or sorted (slices lexicographically). Returns y,
--- idx (each entry's or slice's 1-based place in y), count and first (the 1-based position of
--- each first occurrence in x); the last three int64.
---@param x ts.input
---@param opts? {axis?: integer, sorted?: boolean, name?: string}
---@return ts.Node|ts.Tensor y
---@return ts.Node|ts.Tensor idx
---@return ts.Node|ts.Tensor count
---@return ts.Node|ts.Tensor first
function ts.unique(x, opts) end

-- neural-network ops (float; also in ts.nn)
--- exp(x - max) / sum along `axis` (default -1), stable.
---@param x ts.input
---@param axis? integer|{axis?: integer, name?: string}
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.softmax(x, axis, opts) end
--- x - max - log(sum(exp(x - max))) along `axis` (default -1), stable.
---@param x ts.input
---@param axis? integer|{axis?: integer, name?: string}
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.log_softmax(x, axis, opts) end
--- Per-row -sum(labels * log_softmax(logits)) over the last axis (labels and logits of one shape).
---@param args {labels: ts.input, logits: ts.input, name?: string}
---@return ts.Node|ts.Tensor
function ts.softmax_cross_entropy_with_logits(args) end
--- Per-row logsumexp(logits) - logits[label] with 1-based int64/uint8 class labels.
---@param args {labels: ts.input, logits: ts.input, name?: string}
---@return ts.Node|ts.Tensor
function ts.sparse_softmax_cross_entropy_with_logits(args) end
--- Element-wise max(x, 0) - x z + log1p(exp(-|x|)) for logits x and labels z of one shape.
---@param args {labels: ts.input, logits: ts.input, name?: string}
---@return ts.Node|ts.Tensor
function ts.sigmoid_cross_entropy_with_logits(args) end
--- Scalar mean of (predictions - labels)^2 (0 for empty inputs).
---@param labels ts.input
---@param predictions ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.mean_squared_error(labels, predictions, opts) end
--- Scalar sum(x^2) / 2.
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.l2_loss(x, opts) end
--- Adds the 1-D bias along x's last axis.
---@param x ts.input
---@param bias ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.bias_add(x, bias, opts) end
--- Inverted dropout: keeps each value with probability 1 - rate, scaled by 1/(1 - rate), when training.
---@param x ts.input
---@param rate number in [0, 1)
---@param opts? {training?: boolean|ts.Node|ts.Tensor, seed?: integer, name?: string}
---@return ts.Node|ts.Tensor
function ts.dropout(x, rate, opts) end
-- Normal values (mean, stddev) drawn anew at every run (a graph op, seeded per node like dropout).
---@param shape integer[] known sizes
---@param opts? {mean?: number, stddev?: number, dtype?: ts.dtype, seed?: integer, name?: string, graph?: ts.Graph}
---@return ts.Node
function ts.random_normal(shape, opts) end
-- As random_normal, values beyond 2 stddev drawn again.
---@param shape integer[] known sizes
---@param opts? {mean?: number, stddev?: number, dtype?: ts.dtype, seed?: integer, name?: string, graph?: ts.Graph}
---@return ts.Node
function ts.truncated_normal(shape, opts) end
-- Uniform values in [minval, maxval) drawn anew at every run (a graph op).
---@param shape integer[] known sizes
---@param opts? {minval?: number, maxval?: number, dtype?: ts.dtype, seed?: integer, name?: string, graph?: ts.Graph}
---@return ts.Node
function ts.random_uniform(shape, opts) end


-- convolution and pooling (float; also in ts.nn; no methods). TensorFlow 1.x semantics:
-- data_format "NHWC" (default; filters [h, w, in/groups, out]) or "NCHW" (filters [out,
-- in/groups, h, w]); strides/dilations/ksize: one integer, one per spatial dim, or TF's
-- rank + 2 form; padding "SAME", "VALID" (default), an integer or {{before, after}, ...}.
---@alias ts.conv_opts {strides?: integer|integer[], padding?: string|integer|integer[][], dilations?: integer|integer[], data_format?: string, groups?: integer, name?: string}
---@alias ts.pool_opts {ksize?: integer|integer[], strides?: integer|integer[], padding?: string|integer|integer[][], data_format?: string, ceil_mode?: boolean, count_include_pad?: boolean, name?: string}
--- Convolution over 1 to 3 spatial dims (from data_format, else the filter's rank).
---@param x ts.input
---@param filters ts.input
---@param opts? ts.conv_opts
---@return ts.Node|ts.Tensor
function ts.convolution(x, filters, opts) end
--- 1-D convolution (data_format "NWC" or "NCW").
---@param x ts.input
---@param filters ts.input
---@param opts? ts.conv_opts
---@return ts.Node|ts.Tensor
function ts.conv1d(x, filters, opts) end
--- 2-D convolution (data_format "NHWC" or "NCHW").
---@param x ts.input
---@param filters ts.input
---@param opts? ts.conv_opts
---@return ts.Node|ts.Tensor
function ts.conv2d(x, filters, opts) end
--- 3-D convolution (data_format "NDHWC" or "NCDHW").
---@param x ts.input
---@param filters ts.input
---@param opts? ts.conv_opts
---@return ts.Node|ts.Tensor
function ts.conv3d(x, filters, opts) end
--- The gradient of conv1d with respect to its input: filters as for conv1d from output_shape to value.
---@param value ts.input
---@param filters ts.input
---@param output_shape integer[]|ts.Node|ts.Tensor
---@param opts? ts.conv_opts
---@return ts.Node|ts.Tensor
function ts.conv1d_transpose(value, filters, output_shape, opts) end
--- The gradient of conv2d with respect to its input (TF's conv2d_backprop_input).
---@param value ts.input
---@param filters ts.input
---@param output_shape integer[]|ts.Node|ts.Tensor
---@param opts? ts.conv_opts
---@return ts.Node|ts.Tensor
function ts.conv2d_transpose(value, filters, output_shape, opts) end
--- The gradient of conv3d with respect to its input.
---@param value ts.input
---@param filters ts.input
---@param output_shape integer[]|ts.Node|ts.Tensor
---@param opts? ts.conv_opts
---@return ts.Node|ts.Tensor
function ts.conv3d_transpose(value, filters, output_shape, opts) end
--- Depthwise 2-D convolution: filter [h, w, in, multiplier]; output channel c * multiplier + m.
---@param x ts.input
---@param filter ts.Node|ts.Tensor
---@param opts? ts.conv_opts
---@return ts.Node|ts.Tensor
function ts.depthwise_conv2d(x, filter, opts) end
--- Max pooling over 1 to 3 spatial dims: pool(x, opts) or pool(x, ksize, strides, padding [, opts]).
---@param x ts.input
---@param ksize integer|integer[]|ts.pool_opts
---@param strides? integer|integer[]
---@param padding? string|integer|integer[][]
---@param opts? ts.pool_opts
---@return ts.Node|ts.Tensor
function ts.max_pool(x, ksize, strides, padding, opts) end
--- Average pooling over 1 to 3 spatial dims (arguments as max_pool).
---@param x ts.input
---@param ksize integer|integer[]|ts.pool_opts
---@param strides? integer|integer[]
---@param padding? string|integer|integer[][]
---@param opts? ts.pool_opts
---@return ts.Node|ts.Tensor
function ts.avg_pool(x, ksize, strides, padding, opts) end
ts.max_pool1d, ts.max_pool2d, ts.max_pool3d = ts.max_pool, ts.max_pool, ts.max_pool
ts.avg_pool1d, ts.avg_pool2d, ts.avg_pool3d = ts.avg_pool, ts.avg_pool, ts.avg_pool

---@alias ts.fused_batch_norm_opts {mean?: ts.input, variance?: ts.input, epsilon?: number, data_format?: string, is_training?: boolean, exponential_avg_factor?: number, name?: string}
---@alias ts.layer_normalization_opts {begin_norm_axis?: integer, begin_params_axis?: integer, gamma?: ts.input, beta?: ts.input, epsilon?: number, name?: string}
-- normalization (float; also in ts.nn)
--- TensorFlow 1.x's fused batch normalization: y, batch_mean, batch_variance. Training (the
--- default): the batch's statistics over every axis but the channels (data_format "NHWC", the
--- default, or "NCHW"; also NC, NWC, NCW, NDHWC, NCDHW: channels last or second, rank >= 2);
--- y uses the biased variance, batch_variance is the unbiased one (n / (n - 1)), as TF returns
--- it; with exponential_avg_factor f ~= 1 both returned statistics are (1 - f) * given + f *
--- batch. Inference (is_training = false): y from the given mean and variance, which are
--- returned. epsilon (default 0.001) below 1.001e-5 is raised to it, as TF does.
---@param x ts.input
---@param scale ts.input
---@param offset ts.input
---@param opts? ts.fused_batch_norm_opts
---@return ts.Node|ts.Tensor y
---@return ts.Node|ts.Tensor batch_mean
---@return ts.Node|ts.Tensor batch_variance
function ts.fused_batch_norm(x, scale, offset, opts) end
--- (x - mean) / sqrt(variance + epsilon) * gamma + beta over the axes begin_norm_axis..rank
--- (default -1: the last; tf.contrib.layers.layer_norm's 1 is 2 here); gamma and beta (each
--- optional) of x.shape[begin_params_axis:] (default -1); epsilon 1e-12 (tf.contrib's).
---@param x ts.input
---@param opts? ts.layer_normalization_opts
---@return ts.Node|ts.Tensor
function ts.layer_normalization(x, opts) end
--- x / sqrt(max(sum(x^2), epsilon)) over axis (1-based, a list, or nil: every axis); epsilon
--- 1e-12 by default. l2_normalize(x, {axis=, epsilon=, name=}) also works.
---@param x ts.input
---@param axis? integer|integer[]|{axis?: integer|integer[], epsilon?: number, name?: string}
---@param opts? {epsilon?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.l2_normalize(x, axis, opts) end

-- Learning

--- The gradients of the sum of ys (each weighted by grad_ys[i], default ones) with respect to
--- each x, as new nodes (nil for an x the ys do not depend on); the array has field n.
---@param ys ts.Node|ts.Node[]
---@param xs ts.Node|ts.Node[]
---@param grad_ys? ts.input|ts.input[]
---@return (ts.Node|nil)[]
function ts.gradients(ys, xs, grad_ys) end
--- Defines or replaces the gradient of an op type (false: not differentiable); f returns one
--- gradient per input of op (op itself is the output).
---@param op_type string
---@param f false|fun(op: ts.Node, grad: ts.Node): (ts.Node|nil)[]|ts.Node
function ts.RegisterGradient(op_type, f) end
--- A node computed by a Lua function when the plan runs (core.custom).
---@param spec ts.OperationSpec
---@return ts.Node
function ts.Operation(spec) end
--- One node that runs every given node (optimizer steps): ts.group(a, b) or ts.group{a, b}.
---@param ... ts.Node|ts.Node[]
---@return ts.Node
function ts.group(...) end
--- The graph's variables except optimizer slots (graph: the default graph).
---@param graph? ts.Graph
---@return ts.Node[]
function ts.trainable_variables(graph) end
--- The graph's variables except the metrics' local ones: what a Saver saves by default.
---@param graph? ts.Graph
---@return ts.Node[]
function ts.global_variables(graph) end
-- An op that assigns every global variable of the graph its value at creation (variables
-- hold that value from creation on: run it to reset them).
---@param graph? ts.Graph
---@return ts.Node
function ts.global_variables_initializer(graph) end
--- The metrics' local variables (not trainable, not saved).
---@param graph? ts.Graph
---@return ts.Node[]
function ts.local_variables(graph) end

-- Clipping (TF1's clip_ops, composed of graph ops: nodes or tensors, with gradients)

--- t clamped to [clip_value_min, clip_value_max] (bounds broadcast); the gradient passes where
--- min <= t <= max, ends included.
---@param t ts.Node|ts.Tensor float32 or float64
---@param clip_value_min ts.input
---@param clip_value_max ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.clip_by_value(t, clip_value_min, clip_value_max, opts) end
--- t clip_norm / max(L2 norm of t over axes, clip_norm); a zero norm leaves t (gradient finite).
---@param t ts.Node|ts.Tensor float32 or float64
---@param clip_norm number|ts.Node|ts.Tensor positive scalar
---@param opts? {axes?: ts.axis, name?: string} axes 1-based (default all)
---@return ts.Node|ts.Tensor
function ts.clip_by_norm(t, clip_norm, opts) end
--- Every entry scaled by clip_norm / max(global norm, clip_norm); nil entries stay nil (result
--- has n); a zero norm changes nothing, an infinite or NaN one gives NaN. list may be
--- compute_gradients' {grad, var} pairs: the result is then pairs for apply_gradients.
---@param list (ts.Node|ts.Tensor|nil)[]|ts.grad_and_var[]
---@param clip_norm number|ts.Node|ts.Tensor positive scalar
---@param opts? {use_norm?: number|ts.Node|ts.Tensor} a global norm computed elsewhere
---@return table clipped
---@return ts.Node|ts.Tensor|number global_norm
function ts.clip_by_global_norm(list, clip_norm, opts) end

-- Scopes (TF1)

---@alias ts.variable_scope_opts {reuse?: boolean|"auto", initializer?: ts.initializer|ts.Tensor|number}
---@class ts.GetVariableOpts
---@field initializer? ts.initializer|ts.Tensor|number default glorot_uniform (or the scope's)
---@field dtype? ts.dtype default float64
---@field trainable? boolean default true
---@field regularizer? fun(v: ts.Node): ts.Node|nil its loss goes to ts.losses
---@field graph? ts.Graph default: the default graph

--- Names of nodes made inside get the prefix "name/" (nested scopes add up; a name used before
--- in the default graph becomes name_1; "a/" re-enters scope a; "" is the top level). With f:
--- runs f(scope) inside and returns its results; without: returns the scope, to close.
---@param name string
---@param f? fun(scope: ts.Scope): any
---@return ts.Scope|any
function ts.name_scope(name, f) end
--- ts.get_variable inside looks up or creates "name/<var>"; nodes are named in a name scope
--- "name" (a second entry names its ops "name_1/..."). reuse: true shares existing variables
--- (inherited by nested scopes), "auto" creates the missing ones; initializer: get_variable's
--- default inside. With f: runs f(scope) inside and returns its results; without: the scope.
---@param name string
---@param opts? ts.variable_scope_opts|fun(scope: ts.Scope): any
---@param f? fun(scope: ts.Scope): any
---@return ts.Scope|any
function ts.variable_scope(name, opts, f) end
--- The variable "<variable scopes>/name" of the default graph (or graph): created when missing
--- (initializer default glorot_uniform, or the scope's; a tensor or number as initializer gives
--- the value), returned under reuse (shape and dtype checked when given); creating one that
--- exists or reusing one that does not is an error saying what to change.
---@param name string
---@param shape? integer[]
---@param opts? ts.GetVariableOpts
---@return ts.Node
function ts.get_variable(name, shape, opts) end

-- Seeing the graph

--- Graphviz DOT of a graph, or of what the given nodes depend on (names sharing a `prefix/`
--- are grouped).
---@param what ts.Graph|ts.Node|ts.Node[]
---@return string
function ts.dot(what) end
--- ts.summary(what): a table of the variables with shapes, dtypes and parameter counts
--- (default: the default graph), and the total. ts.summary.writer: training summaries.
---@class tensorslow.summary
---@overload fun(what?: ts.Graph|ts.Node|ts.Node[]): text: string, total: integer
ts.summary = {}

-- Watching training: summaries as JSON lines, SVG pictures

--- A writer of summaries as JSON lines into a new file dir/run-<YYYYmmdd-HHMMSS>-<pid>.jsonl
--- (opts.name instead of run-...; a -2, -3... suffix when taken); dir is created when missing.
--- One record per line: {"wall_time", "step", "tag", "type": "scalar", "value"} or the
--- histogram's {"type": "histogram", "count", "min", "max", "sum", "nan", "inf", "-inf",
--- "edges", "counts"}. JSON has no NaN or infinity: a non-finite scalar is "value": null with
--- "nonfinite": "nan"|"inf"|"-inf"; a histogram's buckets hold its finite values only.
--- Lines are written as they come; close it (or `local w <close> = ...`) at the end.
---@param dir string
---@param opts? {name?: string}
---@return ts.SummaryWriter
function ts.summary.writer(dir, opts) end

---@class ts.SummaryWriter
---@field path string the file written
---@field dir string
local SummaryWriter = {}
--- Appends {"type": "scalar", "value": value} for tag at step; returns the writer.
---@param tag string
---@param value number|ts.Tensor a number or a one-element tensor
---@param step integer >= 0
---@return ts.SummaryWriter
function SummaryWriter:scalar(tag, value, step) end
--- Appends a histogram of the values: opts.bins (default 30) equal buckets from the smallest to
--- the largest finite value ("edges": bins + 1 numbers, "counts": bins; the last bucket includes
--- its upper edge; equal values: one bucket [v - 0.5, v + 0.5]); returns the writer.
---@param tag string
---@param values ts.Tensor|number[]
---@param step integer >= 0
---@param opts? {bins?: integer}
---@return ts.SummaryWriter
function SummaryWriter:histogram(tag, values, step, opts) end
--- Flushes the file; returns the writer.
---@return ts.SummaryWriter
function SummaryWriter:flush() end
--- Closes the file (also by `<close>` and the collector); safe to call twice.
function SummaryWriter:close() end

---@class ts.PlotSeries
---@field name? string the legend's text (default "series N")
---@field x? number[]|ts.Tensor default 1, 2, ..., #y
---@field y number[]|ts.Tensor non-finite values break the line
---@field color? string "#rrggbb", "#rgb" or a colour name (default: Tableau's ten colours in turn)
---@field axis? "left"|"right" the right axis has its own scale (default "left")
---@field marker? boolean a dot at each point (default: when at most 40 points)
---@field line_width? number default 2
---@field opacity? number in (0, 1], default 1
---@field dash? boolean a dashed line

---@class ts.PlotPanel
---@field series ts.PlotSeries[]
---@field ylabel? string
---@field y2label? string the right axis' label
---@field ylim? number[] {low, high} (default: the data's range and 5% more each side)
---@field y2lim? number[] the right axis' range

---@class ts.LinesOpts
---@field series? ts.PlotSeries[] one panel (with ylabel, y2label, ylim, y2lim here)
---@field panels? ts.PlotPanel[] or panels stacked on the one x axis, each with its own y axes
---@field title? string
---@field xlabel? string
---@field ylabel? string
---@field y2label? string the right axis' label
---@field xlim? number[] {low, high} (default: the data's range)
---@field ylim? number[] {low, high} (default: the data's range and 5% more each side)
---@field y2lim? number[] the right axis' range
---@field width? integer pixels, default 800
---@field height? integer pixels, default 480 (300 + 180 per panel with panels)
---@field legend? boolean default true (under the title)
---@field grid? boolean default true
---@field file? string also write the SVG there

---@class ts.HeatmapOpts
---@field matrix number[][]|ts.Tensor rows of numbers (a confusion matrix: rows true, columns predicted)
---@field labels? string[] both axes' labels (a square matrix)
---@field row_labels? string[]
---@field col_labels? string[]
---@field title? string
---@field xlabel? string
---@field ylabel? string
---@field width? integer pixels, at most 800 by default (cells are square, at most 90 px: a small
--- matrix makes a narrower picture; the height follows)
---@field values? boolean write each value in its cell (default: up to 30x30)
---@field scale? "linear"|"sqrt"|"log" value to colour, white to dark blue (default "linear")
---@field colorbar? boolean default true
---@field file? string also write the SVG there

---@class tensorslow.plot
ts.plot = {}
--- Line chart as SVG text (axes with ticks and labels, a legend, an optional right axis;
--- several panels sharing the x axis with `panels`).
---@param opts ts.LinesOpts
---@return string svg
function ts.plot.lines(opts) end
--- Heat map of a matrix as SVG text (each cell's value written in it, a colour bar).
---@param opts ts.HeatmapOpts
---@return string svg
function ts.plot.heatmap(opts) end

---@class ts.OnnxModel
---@field graph ts.Graph the new graph holding the model
---@field inputs table<integer|string, ts.Node> placeholders (bound inputs: constants): an array, also by ONNX name
---@field outputs table<integer|string, ts.Node> the graph outputs: an array (sess:run takes it), also by name
---@field variables table<integer|string, ts.Node> the float initializers as Variables: an array, also by name
---@field opset integer the model's ai.onnx opset
---@field opsets table<string, integer> opset per domain ("" for ai.onnx)
---@field producer string? producer_name
---@field ir_version integer?

---@class ts.OnnxLoadOpts
---@field trainable? boolean false: float initializers become constants, not Variables (default true)
---@field bind? table<string, ts.Tensor> graph inputs given a value at load time (they become constants)
---@field allow_missing? boolean build what has converters; nodes of unknown op types are left out

---@class tensorslow.onnx
ts.onnx = {}
--- An ONNX model file as a tensorslow graph: graph inputs become placeholders (dtype and shape,
--- symbolic dims -1), float initializers Variables (integer ones constants), each node the ops
--- of its converter; names are kept. Errors name the file, the node and the problem.
---@param path string
---@param opts? ts.OnnxLoadOpts
---@return ts.OnnxModel
function ts.onnx.load(path, opts) end
--- The same from the model file's bytes (external data is refused: there is no directory).
---@param bytes string
---@param opts? ts.OnnxLoadOpts
---@return ts.OnnxModel
function ts.onnx.load_string(bytes, opts) end
--- The tensor stored in a TensorProto file (the ONNX test data's input_0.pb ...), converted
--- to the nearest dtype (README, "Models from elsewhere").
---@param path string
---@return ts.Tensor
function ts.onnx.load_tensor(path) end
--- The ONNX op types that have a converter, sorted.
---@return string[]
function ts.onnx.ops() end

---@class ts.OnnxSaveOpts
---@field inputs ts.Node|ts.Node[] the graph inputs (placeholders, or any node to cut the graph at)
---@field outputs ts.Node|ts.Node[] the graph outputs
---@field opset? integer the ai.onnx opset declared, 13 to 17 (default 17)
---@field producer? string producer_name (default "tensorslow")
---@field names? table<ts.Node, string> ONNX names for nodes (default: the node names)
---@field feed? table<ts.Node, any> placeholders fixed to a value (e.g. a training flag: 0); a where or dropout choosing on one is simplified
--- A tensorslow graph as an ONNX model file: the nodes between inputs and outputs become ONNX
--- nodes, variables and constants initializers (their current values), inputs typed graph
--- inputs (-1 dims named). An op with no ONNX form is an error naming it and the node. Returns path.
---@param path string
---@param opts ts.OnnxSaveOpts
---@return string path
function ts.onnx.save(path, opts) end
--- The same as the model file's bytes.
---@param opts ts.OnnxSaveOpts
---@return string bytes
function ts.onnx.save_string(opts) end
-- The ops added for ONNX import (issue 15; lua/tensorslow/math2.lua).
--- The error function, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.erf(x, opts) end
--- Rounds down, element-wise (float; no gradient).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.floor(x, opts) end
--- Rounds up, element-wise (float; no gradient).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.ceil(x, opts) end
--- Rounds to the nearest integer, halves to even (float; no gradient).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.round(x, opts) end
--- Inverse cosine, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.acos(x, opts) end
--- Inverse sine, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.asin(x, opts) end
--- Inverse tangent, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.atan(x, opts) end
--- Hyperbolic cosine, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.cosh(x, opts) end
--- Hyperbolic sine, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.sinh(x, opts) end
--- Tangent, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.tan(x, opts) end
--- Inverse hyperbolic cosine, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.acosh(x, opts) end
--- Inverse hyperbolic sine, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.asinh(x, opts) end
--- Inverse hyperbolic tangent, element-wise (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.atanh(x, opts) end
--- gamma * (x > 0 ? x : alpha * (exp(x) - 1)) (float; the self-normalising alpha and gamma by default).
---@param x ts.input
---@param opts? {alpha?: number, gamma?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.selu(x, opts) end
--- max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (float; alpha 1, not 0).
---@param x ts.input
---@param opts? {alpha?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.celu(x, opts) end
--- max(0, min(1, alpha * x + beta)) (float; alpha 0.2, beta 0.5).
---@param x ts.input
---@param opts? {alpha?: number, beta?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.hard_sigmoid(x, opts) end
--- x * max(0, min(6, x + 3)) / 6 (float).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.hard_swish(x, opts) end
--- x + bias where x < -lambd, x - bias where x > lambd, else 0 (float; lambd 0.5, bias 0).
---@param x ts.input
---@param opts? {lambd?: number, bias?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.shrink(x, opts) end
--- x where x > alpha, else 0 (float; alpha 1).
---@param x ts.input
---@param opts? {alpha?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.thresholded_relu(x, opts) end
--- 1 where x is NaN, else 0 (float in, uint8 out).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.is_nan(x, opts) end
--- 1 where x is +-inf, else 0 (float in, uint8 out).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.is_inf(x, opts) end
--- 1 where x is 0, else 0 (uint8).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.logical_not(x, opts) end
--- ~x, element-wise (int64, uint8).
---@param x ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.bitwise_invert(x, opts) end
--- a - floor(a / b) * b: the remainder with b's sign (all dtypes; integer b = 0 gives 0).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.floormod(a, b, opts) end
--- The remainder with a's sign, C's fmod (all dtypes; integer b = 0 gives 0; no gradient).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.truncatemod(a, b, opts) end
--- a and b as uint8 0/1 (uint8: non-zero is true).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.logical_and(a, b, opts) end
--- a or b as uint8 0/1 (uint8: non-zero is true).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.logical_or(a, b, opts) end
--- a xor b as uint8 0/1 (uint8: non-zero is true).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.logical_xor(a, b, opts) end
--- a & b (int64, uint8).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.bitwise_and(a, b, opts) end
--- a | b (int64, uint8).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.bitwise_or(a, b, opts) end
--- a ~ b (int64, uint8).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.bitwise_xor(a, b, opts) end
--- a << b (int64, uint8; b outside [0, bits) gives 0).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.left_shift(a, b, opts) end
--- a >> b, arithmetic for int64 (int64, uint8; b outside [0, bits) shifts every bit out).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.right_shift(a, b, opts) end
--- a where a >= 0, else b * a (float; the slope b broadcast against a).
---@param a ts.input
---@param b ts.input
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.prelu(a, b, opts) end

--- 1 at the first maximum along axis (default -1), 0 elsewhere, in x's dtype (no gradient).
---@param x ts.input
---@param opts? {axis?: integer, name?: string}
---@return ts.Node|ts.Tensor
function ts.hardmax(x, opts) end
--- Moves channels into block_size x block_size spatial blocks (rank 4; data_format "NHWC" (default)
--- or "NCHW"; mode "DCR" (default, TF1's order) or "CRD").
---@param x ts.input
---@param block_size integer
---@param opts? {data_format?: "NHWC"|"NCHW", mode?: "DCR"|"CRD", name?: string}
---@return ts.Node|ts.Tensor
function ts.depth_to_space(x, block_size, opts) end
--- The inverse of depth_to_space: block_size x block_size spatial blocks into channels.
---@param x ts.input
---@param block_size integer
---@param opts? {data_format?: "NHWC"|"NCHW", mode?: "DCR"|"CRD", name?: string}
---@return ts.Node|ts.Tensor
function ts.space_to_depth(x, block_size, opts) end
--- x / (bias + alpha * sum of x^2 over the channels within depth_radius)^beta along the last axis
--- (depth_radius 5, bias 1, alpha 1, beta 0.5).
---@param x ts.input
---@param opts? {depth_radius?: integer, bias?: number, alpha?: number, beta?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.local_response_normalization(x, opts) end
--- Each sample's channels normalized over their spatial axes (epsilon 1e-5), then scale * y + offset
--- per channel (either may be nil); data_format "NHWC" (default) or "NCHW".
---@param x ts.input
---@param scale? ts.input
---@param offset? ts.input
---@param opts? {epsilon?: number, data_format?: "NHWC"|"NCHW", name?: string}
---@return ts.Node|ts.Tensor
function ts.instance_normalization(x, scale, offset, opts) end

--- The sum of products an einsum equation names ("ij,jk->ik", "bij,bjk->bik", "i,i", "ij->ji",
--- "...ii->...i"; implicit output as NumPy's); inputs of known shapes; a trailing {name=} table.
---@param equation string
---@param ... ts.input|ts.name_opts
---@return ts.Node|ts.Tensor
function ts.einsum(equation, ...) end

-- ts.image: image ops (lua/tensorslow/math2.lua).
---@class tensorslow.image
ts.image = {}
--- images [N, H, W, C] (or [H, W, C]) resized to size = {height, width}: method "bilinear" (default),
--- "nearest" or "bicubic"; TF1's coordinates (asymmetric; align_corners; half_pixel_centers) or
--- ONNX's coordinate_transformation_mode ("half_pixel", "pytorch_half_pixel", "align_corners",
--- "asymmetric", "tf_half_pixel_for_nn") and nearest_mode ("round_prefer_floor", "round_prefer_ceil",
--- "floor", "ceil"; default floor, round_prefer_ceil with align_corners).
---@param images ts.input
---@param size integer[]
---@param opts? {method?: "bilinear"|"nearest"|"bicubic"|"linear"|"cubic", align_corners?: boolean, half_pixel_centers?: boolean, coordinate_transformation_mode?: string, nearest_mode?: string, cubic_coeff_a?: number, exclude_outside?: boolean, name?: string}
---@return ts.Node|ts.Tensor
function ts.image.resize(images, size, opts) end

-- ts.nn: the neural-network ops again.
---@class tensorslow.nn
ts.nn = {}
ts.nn.softmax = ts.softmax
ts.nn.log_softmax = ts.log_softmax
ts.nn.softmax_cross_entropy_with_logits = ts.softmax_cross_entropy_with_logits
ts.nn.sparse_softmax_cross_entropy_with_logits = ts.sparse_softmax_cross_entropy_with_logits
ts.nn.sigmoid_cross_entropy_with_logits = ts.sigmoid_cross_entropy_with_logits
ts.nn.mean_squared_error = ts.mean_squared_error
ts.nn.l2_loss = ts.l2_loss
ts.nn.bias_add = ts.bias_add
ts.nn.dropout = ts.dropout
-- the activations (TensorFlow's tf.nn.relu, ...)
ts.nn.relu, ts.nn.sigmoid, ts.nn.tanh, ts.nn.softplus, ts.nn.softsign = ts.relu, ts.sigmoid, ts.tanh,
  ts.softplus, ts.softsign
ts.nn.elu, ts.nn.gelu, ts.nn.leaky_relu = ts.elu, ts.gelu, ts.leaky_relu
ts.nn.convolution, ts.nn.conv1d, ts.nn.conv2d, ts.nn.conv3d = ts.convolution, ts.conv1d, ts.conv2d,
  ts.conv3d
ts.nn.conv1d_transpose, ts.nn.conv2d_transpose, ts.nn.conv3d_transpose = ts.conv1d_transpose,
  ts.conv2d_transpose, ts.conv3d_transpose
ts.nn.depthwise_conv2d = ts.depthwise_conv2d
ts.nn.max_pool, ts.nn.max_pool1d, ts.nn.max_pool2d, ts.nn.max_pool3d = ts.max_pool, ts.max_pool,
  ts.max_pool, ts.max_pool
ts.nn.avg_pool, ts.nn.avg_pool1d, ts.nn.avg_pool2d, ts.nn.avg_pool3d = ts.avg_pool, ts.avg_pool,
  ts.avg_pool, ts.avg_pool
ts.nn.fused_batch_norm = ts.fused_batch_norm
ts.nn.layer_normalization = ts.layer_normalization
ts.nn.l2_normalize = ts.l2_normalize
ts.nn.selu = ts.selu
ts.nn.local_response_normalization = ts.local_response_normalization
ts.nn.top_k = ts.top_k
--- Mean and variance over axes (1-based; the variance is the mean of squared deviations).
---@param x ts.input
---@param axes integer|integer[]
---@param opts? {keepdims?: boolean, name?: string}
---@return ts.Node|ts.Tensor mean
---@return ts.Node|ts.Tensor variance
function ts.nn.moments(x, axes, opts) end
--- (x - mean) * scale / sqrt(variance + variance_epsilon) + offset; offset and scale may be nil.
---@param x ts.input
---@param mean ts.input
---@param variance ts.input
---@param offset? ts.input
---@param scale? ts.input
---@param variance_epsilon number
---@return ts.Node|ts.Tensor
function ts.nn.batch_normalization(x, mean, variance, offset, scale, variance_epsilon) end

-- ts.train: optimizers (TensorFlow 1.x update formulas) and the Saver. Each optimizer also
-- takes its learning rate and options as one table.
---@alias ts.momentum_opts {learning_rate: number|ts.Node, momentum: number, use_nesterov?: boolean}
---@alias ts.adam_opts {learning_rate?: number|ts.Node, beta1?: number, beta2?: number, epsilon?: number}
---@alias ts.rmsprop_opts {learning_rate: number|ts.Node, decay?: number, momentum?: number, epsilon?: number}
---@alias ts.adagrad_opts {learning_rate: number|ts.Node, initial_accumulator_value?: number}
---@alias ts.adamw_opts {learning_rate?: number|ts.Node, weight_decay?: number, beta1?: number, beta2?: number, epsilon?: number, decay_var_list?: ts.Node[]}
---@class tensorslow.train
ts.train = {}
--- var -= lr g.
---@param learning_rate number|ts.Node|{learning_rate: number|ts.Node}
---@return ts.Optimizer
function ts.train.GradientDescentOptimizer(learning_rate) end
--- a = momentum a + g; var -= lr a (Nesterov: var -= lr g + lr momentum a); slot <var>/Momentum.
---@param learning_rate number|ts.Node
---@param momentum number
---@param opts? {use_nesterov?: boolean}
---@return ts.MomentumOptimizer
---@overload fun(opts: ts.momentum_opts): ts.MomentumOptimizer
function ts.train.MomentumOptimizer(learning_rate, momentum, opts) end
--- Adam (learning rate 0.001 by default); slots <var>/Adam (m), <var>/Adam_1 (v), <var>/Adam_2 (t).
---@param learning_rate? number|ts.Node
---@param opts? {beta1?: number, beta2?: number, epsilon?: number}
---@return ts.AdamOptimizer
---@overload fun(opts: ts.adam_opts): ts.AdamOptimizer
function ts.train.AdamOptimizer(learning_rate, opts) end
--- RMSProp (decay 0.9, momentum 0, epsilon 1e-10); slots <var>/RMSProp (ms), <var>/RMSProp_1.
---@param learning_rate number|ts.Node
---@param opts? {decay?: number, momentum?: number, epsilon?: number}
---@return ts.RMSPropOptimizer
---@overload fun(opts: ts.rmsprop_opts): ts.RMSPropOptimizer
function ts.train.RMSPropOptimizer(learning_rate, opts) end
--- acc += g^2; var -= lr g / sqrt(acc) (acc starts at 0.1); slot <var>/Adagrad.
---@param learning_rate number|ts.Node
---@param opts? {initial_accumulator_value?: number}
---@return ts.AdagradOptimizer
---@overload fun(opts: ts.adagrad_opts): ts.AdagradOptimizer
function ts.train.AdagradOptimizer(learning_rate, opts) end
--- Adam with decoupled weight decay, step for step torch.optim.AdamW: var = var (1 - lr wd) -
--- lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps). Defaults: learning rate 0.001,
--- weight_decay 0.01, betas 0.9 and 0.999, epsilon 1e-8; decay_var_list: the variables decayed
--- (default all). Slots <var>/AdamW (m), <var>/AdamW_1 (v), <var>/AdamW_2 (t).
---@param learning_rate? number|ts.Node|ts.adamw_opts
---@param opts? ts.adamw_opts
---@return ts.AdamWOptimizer
function ts.train.AdamWOptimizer(learning_rate, opts) end
--- A Saver of var_list (default: every variable of the session's graph when saving/restoring,
--- except the metrics' local variables).
---@param var_list? ts.Node[]
---@return ts.Saver
function ts.train.Saver(var_list) end
--- The graph's global step (default graph), or nil.
---@param graph? ts.Graph
---@return ts.Node|nil
function ts.train.get_global_step(graph) end
--- The int64 scalar variable "global_step" (not trainable, saved), made at 0 on first call;
--- every minimize built afterwards on the graph adds 1 to it per run.
---@param graph? ts.Graph
---@return ts.Node
function ts.train.get_or_create_global_step(graph) end

-- Learning-rate schedules (TF1 formulas): nodes of the step (a number: a tensor at once),
-- usable as any optimizer's learning rate; float64, or the learning rate's dtype.

--- learning_rate decay_rate^(global_step / decay_steps), the exponent floored when staircase.
---@param learning_rate number|ts.Node
---@param global_step ts.Node|number
---@param decay_steps number
---@param decay_rate number
---@param opts? {staircase?: boolean, name?: string}
---@return ts.Node|ts.Tensor
function ts.train.exponential_decay(learning_rate, global_step, decay_steps, decay_rate, opts) end
--- values[1] while x <= boundaries[1], values[i] while boundaries[i-1] < x <= boundaries[i],
--- values[#boundaries + 1] beyond (float64; increasing boundaries, integers for an integer x).
---@param x ts.Node|number
---@param boundaries number[]
---@param values number[]
---@param opts? ts.name_opts
---@return ts.Node|ts.Tensor
function ts.train.piecewise_constant(x, boundaries, values, opts) end
--- (learning_rate - end) (1 - s / decay_steps)^power + end, s = min(global_step, decay_steps);
--- cycle: decay_steps times ceil(global_step / decay_steps) instead (1 at step 0).
---@param learning_rate number|ts.Node
---@param global_step ts.Node|number
---@param decay_steps number
---@param opts? {end_learning_rate?: number, power?: number, cycle?: boolean, name?: string}
---@return ts.Node|ts.Tensor
function ts.train.polynomial_decay(learning_rate, global_step, decay_steps, opts) end
--- learning_rate ((1 - alpha) (1 + cos(pi s / decay_steps)) / 2 + alpha), s = min(global_step,
--- decay_steps). warmup_steps W > 0: first warmup_from + (learning_rate - warmup_from) step / W
--- while step < W, then the decay of step - W.
---@param learning_rate number|ts.Node
---@param global_step ts.Node|number
---@param decay_steps number
---@param opts? {alpha?: number, warmup_steps?: number, warmup_from?: number, name?: string}
---@return ts.Node|ts.Tensor
function ts.train.cosine_decay(learning_rate, global_step, decay_steps, opts) end

-- ts.regularizers: functions of a variable giving a scalar loss (layers' kernel_regularizer,
-- get_variable's regularizer), collected per graph.
---@class tensorslow.regularizers
ts.regularizers = {}
--- w -> scale sum(w^2) / 2 (TF1's l2_regularizer; scale 0: nil, nothing added).
---@param scale number
---@return fun(w: ts.Node): ts.Node|nil
function ts.regularizers.l2(scale) end
--- w -> scale sum(|w|) (scale 0: nil, nothing added).
---@param scale number
---@return fun(w: ts.Node): ts.Node|nil
function ts.regularizers.l1(scale) end

---@class tensorslow.losses
ts.losses = {}
--- The graph's regularization losses, in the order they were made.
---@param graph? ts.Graph
---@return ts.Node[]
function ts.losses.get_regularization_losses(graph) end
--- Their sum (in the first one's dtype), or the number 0 when there is none.
---@param graph? ts.Graph
---@return ts.Node|number
function ts.losses.get_regularization_loss(graph) end

-- ts.metrics: streaming metrics (see ts.Metric); labels and predictions share a shape, one of
-- them a node; of different dtypes they are compared as float64.
---@class tensorslow.metrics
ts.metrics = {}
--- The fraction of entries where predictions equal labels (0 before any batch).
---@param labels ts.input
---@param predictions ts.input
---@param opts? {name?: string}
---@return ts.Metric
function ts.metrics.accuracy(labels, predictions, opts) end
--- The mean of every element of every batch (0 before any).
---@param values ts.Node
---@param opts? {name?: string}
---@return ts.Metric
function ts.metrics.mean(values, opts) end
--- true positives / (true + false positives), 0 when none predicted; positive: non-zero, or
--- equal to class (that class against the rest).
---@param labels ts.input
---@param predictions ts.input
---@param opts? {class?: integer, name?: string}
---@return ts.Metric
function ts.metrics.precision(labels, predictions, opts) end
--- true positives / (true positives + false negatives), 0 when no positive label.
---@param labels ts.input
---@param predictions ts.input
---@param opts? {class?: integer, name?: string}
---@return ts.Metric
function ts.metrics.recall(labels, predictions, opts) end
--- value[i][j] (int64) counts entries of class i (1-based) predicted j; a class outside
--- 1..num_classes is a run-time error of update.
---@param labels ts.input
---@param predictions ts.input
---@param opts {num_classes: integer, name?: string}
---@return ts.Metric
function ts.metrics.confusion_matrix(labels, predictions, opts) end

-- ts.initializers: called with a shape they return a tensor; with options only (or nothing)
-- they return an initializer, a function of (shape [, {dtype=}]).
---@class tensorslow.initializers
ts.initializers = {}
--- Zeros (also zeros_initializer).
---@param shape integer[]|integer
---@param opts? {dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {dtype?: ts.dtype}): ts.initializer
function ts.initializers.zeros(shape, opts) end
--- Ones (also ones_initializer).
---@param shape integer[]|integer
---@param opts? {dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {dtype?: ts.dtype}): ts.initializer
function ts.initializers.ones(shape, opts) end
--- Filled with value (default 0).
---@param shape integer[]|integer
---@param opts? {value?: number, dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {value?: number, dtype?: ts.dtype}): ts.initializer
function ts.initializers.constant(shape, opts) end
--- Normal numbers (mean 0, stddev 1 by default).
---@param shape integer[]|integer
---@param opts? {mean?: number, stddev?: number, dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {mean?: number, stddev?: number, dtype?: ts.dtype}): ts.initializer
function ts.initializers.random_normal(shape, opts) end
--- Normal numbers, those beyond 2 stddev drawn again (mean 0, stddev 1).
---@param shape integer[]|integer
---@param opts? {mean?: number, stddev?: number, dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {mean?: number, stddev?: number, dtype?: ts.dtype}): ts.initializer
function ts.initializers.truncated_normal(shape, opts) end
--- Uniform numbers in [minval, maxval) (0 and 1 by default).
---@param shape integer[]|integer
---@param opts? {minval?: number, maxval?: number, dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {minval?: number, maxval?: number, dtype?: ts.dtype}): ts.initializer
function ts.initializers.random_uniform(shape, opts) end
--- Uniform in +-sqrt(6 / (fan_in + fan_out)).
---@param shape integer[]|integer
---@param opts? {dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {dtype?: ts.dtype}): ts.initializer
function ts.initializers.glorot_uniform(shape, opts) end
--- Truncated normal with variance 2 / (fan_in + fan_out) (TensorFlow's scaling).
---@param shape integer[]|integer
---@param opts? {dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {dtype?: ts.dtype}): ts.initializer
function ts.initializers.glorot_normal(shape, opts) end
--- Truncated normal with variance 2 / fan_in (TensorFlow's scaling).
---@param shape integer[]|integer
---@param opts? {dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {dtype?: ts.dtype}): ts.initializer
function ts.initializers.he_normal(shape, opts) end
--- Uniform in +-sqrt(6 / fan_in) (fan_in of a conv filter [h, w, in, out]: h w in).
---@param shape integer[]|integer
---@param opts? {dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {dtype?: ts.dtype}): ts.initializer
function ts.initializers.he_uniform(shape, opts) end
--- Truncated normal with variance 1 / fan_in (TensorFlow's scaling).
---@param shape integer[]|integer
---@param opts? {dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {dtype?: ts.dtype}): ts.initializer
function ts.initializers.lecun_normal(shape, opts) end
--- Uniform in +-sqrt(3 / fan_in).
---@param shape integer[]|integer
---@param opts? {dtype?: ts.dtype}
---@return ts.Tensor
---@overload fun(opts?: {dtype?: ts.dtype}): ts.initializer
function ts.initializers.lecun_uniform(shape, opts) end
---@class ts.VarianceScalingOpts
---@field scale? number default 1
---@field mode? "fan_in"|"fan_out"|"fan_avg" default "fan_in" (a conv filter: h w in / h w out)
---@field distribution? "truncated_normal"|"untruncated_normal"|"uniform" default "truncated_normal"
---@field dtype? ts.dtype
--- TensorFlow's VarianceScaling: variance scale / fan (fan chosen by mode, at least 1); uniform
--- in +-sqrt(3 scale / fan), or a normal (truncated at 2 stddev, rescaled to keep the variance).
---@param shape integer[]|integer
---@param opts? ts.VarianceScalingOpts
---@return ts.Tensor
---@overload fun(opts?: ts.VarianceScalingOpts): ts.initializer
function ts.initializers.variance_scaling(shape, opts) end
ts.initializers.zeros_initializer = ts.initializers.zeros
ts.initializers.ones_initializer = ts.initializers.ones

---@class ts.DenseOpts
---@field activation? fun(x: ts.Node): ts.Node applied last (e.g. ts.relu)
---@field name? string default "dense"
---@field dtype? ts.dtype default: x's
---@field use_bias? boolean default true
---@field kernel_initializer? ts.initializer default ts.initializers.glorot_uniform
---@field bias_initializer? ts.initializer default ts.initializers.zeros
---@field kernel_regularizer? fun(kernel: ts.Node): ts.Node|nil e.g. ts.regularizers.l2(1e-4)

---@class tensorslow.layers
ts.layers = {}
--- activation(x kernel + bias) with variables <name>/kernel (glorot_uniform) and <name>/bias
--- (zeros); a second layer of the same name becomes <name>_1. x's last dimension must be known.
---@param x ts.Node
---@param units integer
---@param opts? ts.DenseOpts
---@return ts.Node
function ts.layers.dense(x, units, opts) end

---@alias ts.data_format_layer "channels_last"|"channels_first"|"NHWC"|"NCHW"

---@class ts.Conv2DOpts
---@field strides? integer|integer[] default 1
---@field padding? "valid"|"same" default "valid" (any case)
---@field data_format? ts.data_format_layer default "channels_last"
---@field dilation_rate? integer|integer[] default 1
---@field activation? fun(x: ts.Node): ts.Node applied last
---@field use_bias? boolean default true
---@field name? string default "conv2d"
---@field dtype? ts.dtype default: x's
---@field kernel_initializer? ts.initializer default ts.initializers.glorot_uniform (sees [h, w, in, filters])
---@field bias_initializer? ts.initializer default ts.initializers.zeros
---@field kernel_regularizer? fun(kernel: ts.Node): ts.Node|nil e.g. ts.regularizers.l2(1e-4)

--- activation(conv2d(x, kernel) + bias) with variables <name>/kernel ([h, w, in, filters] in
--- channels_last, [filters, in, h, w] in channels_first) and <name>/bias. x's channels must be known.
---@param x ts.Node
---@param filters integer
---@param kernel_size integer|integer[]
---@param opts? ts.Conv2DOpts
---@return ts.Node
function ts.layers.conv2d(x, filters, kernel_size, opts) end
---@class ts.Pool2DOpts
---@field padding? "valid"|"same" default "valid"
---@field data_format? ts.data_format_layer default "channels_last"
---@field name? string
--- Maximum over each pool_size window (strides default to pool_size).
---@param x ts.Node
---@param pool_size integer|integer[]
---@param strides? integer|integer[]|ts.Pool2DOpts
---@param opts? ts.Pool2DOpts
---@return ts.Node
function ts.layers.max_pooling2d(x, pool_size, strides, opts) end
--- Mean over each pool_size window, padding excluded (strides default to pool_size).
---@param x ts.Node
---@param pool_size integer|integer[]
---@param strides? integer|integer[]|ts.Pool2DOpts
---@param opts? ts.Pool2DOpts
---@return ts.Node
function ts.layers.average_pooling2d(x, pool_size, strides, opts) end
--- x as [batch, product of the other dimensions] (those must be known).
---@param x ts.Node
---@param opts? {name?: string}
---@return ts.Node
function ts.layers.flatten(x, opts) end
--- ts.nn.dropout when training is true or a scalar node (fed) that is non-zero; else x.
---@param x ts.Node
---@param rate? number|{rate?: number, training?: boolean|ts.Node, seed?: integer, name?: string}
---@param opts? {rate?: number, training?: boolean|ts.Node, seed?: integer, name?: string}
---@return ts.Node
function ts.layers.dropout(x, rate, opts) end
---@class ts.BatchNormOpts
---@field axis? integer the channel axis, 1-based (default -1; 2 for channels_first)
---@field momentum? number default 0.99
---@field epsilon? number default 0.001
---@field center? boolean default true (<name>/beta)
---@field scale? boolean default true (<name>/gamma)
---@field training? boolean|ts.Node default false; a scalar uint8 node chooses at run time
---@field name? string default "batch_normalization"
---@field dtype? ts.dtype default: x's
---@field beta_initializer? ts.initializer
---@field gamma_initializer? ts.initializer
---@field moving_mean_initializer? ts.initializer
---@field moving_variance_initializer? ts.initializer
--- gamma (x - mean) / sqrt(variance + epsilon) + beta per channel. Training: the batch's
--- statistics, and every optimizer step whose gradients depend on the layer also updates the
--- not trainable <name>/moving_mean and <name>/moving_variance (momentum m: moving = m moving +
--- (1 - m) batch); nothing to collect by hand. Inference: the moving statistics.
---@param x ts.Node
---@param opts? ts.BatchNormOpts
---@return ts.Node
function ts.layers.batch_normalization(x, opts) end

-- ts.io: files treated as untrusted; writers are atomic (temporary file, fsync, rename).
---@class tensorslow.io
ts.io = {}
--- An IDX (MNIST) file, plain or gzip: uint8 stays uint8, other integers become int64.
---@param path string
---@return ts.Tensor
function ts.io.load_idx(path) end
--- A NumPy .npy file (1.0-3.0; big-endian and Fortran order converted).
---@param path string
---@return ts.Tensor
function ts.io.load_npy(path) end
--- Writes t as a NumPy .npy file (1.0, C order, little-endian).
---@param path string
---@param t ts.Tensor
function ts.io.save_npy(path, t) end
--- The tensors of a safetensors file by name, and its metadata.
---@param path string
---@return table<string, ts.Tensor> tensors
---@return table<string, string> metadata
function ts.io.load_safetensors(path) end
--- Writes tensors by name as a safetensors file, with optional string metadata.
---@param path string
---@param tensors table<string, ts.Tensor>
---@param metadata? table<string, string>
function ts.io.save_safetensors(path, tensors, metadata) end

---@class ts.BatchesOpts
---@field shuffle? boolean visit the rows in a random order (default false)
---@field seed? integer seed of the shuffle's own generator (default: drawn from ts.seed's)
---@field drop_last? boolean skip a last batch shorter than batch_size
---@field dtype? ts.dtype|(ts.dtype|false)[] convert batch by batch to this dtype
---@field scale? number|(number|false)[] multiply by this while converting (e.g. 1/255)
---@field shard? {[1]: integer, [2]: integer} {rank, size}: this rank's share (0-based, as MPI's)

---@class tensorslow.data
ts.data = {}
--- An iterator over mini-batches of tensors sharing their first dimension, one batch per tensor
--- per step; the batch tensors are reused between steps (copy one to keep it). dtype and scale
--- apply to the first tensor, or per tensor when given as arrays (false keeps one).
---@param tensors ts.Tensor|ts.Tensor[]
---@param batch_size integer
---@param opts? ts.BatchesOpts
---@return fun(): ts.Tensor, ...
function ts.data.batches(tensors, batch_size, opts) end

---@class tensorslow.test
ts.test = {}
--- Compares ts.gradients with central differences in float64. f is a function of placeholders
--- (one per entry of inputs) returning a node, or a node with inputs = {[placeholder or
--- variable] = value}. opts.feed: more placeholders fed on every run, not differentiated.
--- Returns true, max_error or false, message.
---@param f ts.Node|fun(...: ts.Node): ts.Node
---@param inputs ts.value[]|table<ts.Node, ts.value>
---@param opts? {eps?: number, tol?: number, feed?: table<ts.Node, ts.value>}
---@return boolean ok
---@return number|string max_error_or_message
function ts.test.gradcheck(f, inputs, opts) end

return ts
