/* hausbus-payment: wiring only; the logic is in handlers.c. */
#include "handlers.h"

int main(int argc, char **argv)
{
    return hb_component_main(&payment_component, argc, argv);
}
