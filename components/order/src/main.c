/* hausbus-order: wiring only; the logic is in handlers.c. */
#include "handlers.h"

int main(int argc, char **argv)
{
    return hb_component_main(&order_component, argc, argv);
}
