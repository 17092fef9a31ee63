/** The process's ConnectionDirectory (libs/connections), for `@Inject(CONNECTIONS)`. */
export const CONNECTIONS = Symbol('CONNECTIONS');
