/* hausbus-notification: wiring only; the logic is in handlers.c. */
#include "handlers.h"

int main(int argc, char **argv)
{
    return hb_component_main(&notification_component, argc, argv);
}
