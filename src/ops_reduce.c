/* Reductions (reduce_*, argmax/argmin). */
#include "ops.h"

const tsi_opdef tsi_ops_reduce[] = {
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
