import { emailSink } from './sink.js';

export {
  emailSink,
  emailSinkSchema,
  normaliseEmailConfig,
  bodyIsGiven,
  oneSourcePerBody,
  transportIsComplete,
  smtpUrlIsValid,
  staticAddressesAreValid,
  headersAreAllowed,
  type EmailOptions,
  type EmailSinkConfig,
} from './sink.js';
export { messageIdOf } from './message-id.js';
export { isAddress, parseAddressList, type Mailbox } from './address.js';

export default [emailSink];
