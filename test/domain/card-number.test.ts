import { containsCardNumber } from '../../domain/card-number';

describe('containsCardNumber (invariant 7: free text never carries a card number)', () => {
  it.each([
    ['spaced test Visa', 'customer says card 4242 4242 4242 4242 was charged twice'],
    ['plain digits', 'pan 4000056655665556'],
    ['dashes', 'amex 3782-822463-10005'],
    ['followed by another number', 'charged on 4242 4242 4242 4242 1234 times'],
  ])('finds %s', (_what, text) => {
    expect(containsCardNumber(text)).toBe(true);
  });

  it.each([
    ['an order id', 'order ord_01J9Z3K4Q8 late'],
    ['a phone number', 'call +1 415 555 0100 back'],
    ['a Luhn-invalid 16 digits', '4242 4242 4242 4241'],
    ['12 digits', '424242424242'],
    ['no digits', 'customer asked by phone'],
  ])('leaves %s alone', (_what, text) => {
    expect(containsCardNumber(text)).toBe(false);
  });
});
