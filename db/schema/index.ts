export * from './catalog';
export * from './inventory';
export * from './cart';
export * from './order';
export * from './payment';
export * from './notification';
export * from './support';
export * from './customer';
