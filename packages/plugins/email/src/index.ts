import { emailSink } from './sink.js';

export {
  emailSink,
  emailSinkSchema,
  bodyIsGiven,
  oneSourcePerBody,
  transportIsComplete,
  smtpUrlIsValid,
  staticAddressesAreValid,
  headersAreAllowed,
} from './sink.js';
export { normaliseEmailConfig, type EmailOptions, type EmailSinkConfig } from './options.js';
export { messageIdOf } from './message-id.js';
export { isAddress, parseAddressList, type Mailbox } from './address.js';

export default [emailSink];
