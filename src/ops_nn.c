/* Neural-network ops (softmax, cross-entropy, dropout, ...). */
#include "ops.h"

const tsi_opdef tsi_ops_nn[] = {
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
