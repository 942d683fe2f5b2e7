// Schemas shared by the web admin's routes.
import { Type } from '@sinclair/typebox'

/** Every error answer: what went wrong, said so a person can act on it. */
export const ErrorBody = Type.Object({ error: Type.String(), statusCode: Type.Integer() })
