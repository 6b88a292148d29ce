/* hausbus-order: wiring only; the saga logic is in handlers.c. */
#include "handlers.h"

int main(void)
{
    return hb_component_main(&order_component);
}
