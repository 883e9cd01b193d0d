/* Shape ops (reshape, concat, slice, gather, ...). */
#include "ops.h"

const tsi_opdef tsi_ops_shape[] = {
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
