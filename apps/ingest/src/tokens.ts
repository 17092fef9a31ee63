/** The one CONFIG token (libs/config), under the name the webhook controller imports it by. */
export { CONFIG } from '@iks/config';
